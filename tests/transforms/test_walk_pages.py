"""WalkPagesFn, the splittable DoFn that walks a window page by page, driven by hand: split mid-walk from the
restriction tracker (as a runner does from another thread), its residual sent through the restriction coder and
walked on. Whole runs of the same faults on every runner mode are in tests/pipeline/test_walk_signals.py."""

from __future__ import annotations

from apache_beam.pvalue import TaggedOutput
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker

from beam_api_pipeline.core.runner_profile import RunnerProfile
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.walk_fetch import WalkPagesFn
from beam_api_pipeline.fetch.walk_restriction import PageWalk, PageWalkProvider, PageWalkTracker
from beam_api_pipeline.pagination.base import WalkTally
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask, window_complete
from tests.pipeline.test_walk_signals import style_config
from tests.support import t
from tests.transform_support import config


def test_a_walk_split_mid_way_keeps_its_tally_rereads_in_the_residual_and_reports_the_served_page_size(
    sample_api, tmp_path
):
    """One window's walk (offsets, 4 served where 10 are asked, record 50 moved after page 1) split after its
    third page: the residual, sent through the restriction coder, finishes the first read with the tally it was
    handed, finds the totals differ, reads the window again, and each part reports the page size served."""
    sample_api.set_faults(page_cap=4, moving_records={50})
    cfg = config(tmp_path, sample_api.url, **style_config("offset", primary_key=True))
    fn = WalkPagesFn(cfg, RestExtractor, RunnerProfile(can_defer=False))
    fn.setup()
    task = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
    try:
        tracker = ThreadsafeRestrictionTracker(PageWalkTracker(PageWalk()))
        first = []
        for output in fn.process(task.to_element(), tracker=RestrictionTrackerView(tracker)):
            first.append(output)
            if len(first) == 3:  # pages 1 to 3 are out
                primary, residual = tracker.try_split(0.5)
        coder = PageWalkProvider().restriction_coder()
        residual = coder.decode(coder.encode(residual))
        tracker = ThreadsafeRestrictionTracker(PageWalkTracker(residual))
        second = list(fn.process(task.to_element(), tracker=RestrictionTrackerView(tracker)))
        tracker.check_done()
    finally:
        fn.teardown()

    assert (primary.stop_index, residual.start.index, residual.start.tally) == (3, 3, WalkTally(0, 12, 48, 4, 0))
    outputs = first + second
    results = [WindowResult.from_element(o.value) for o in outputs if isinstance(o, TaggedOutput)]
    rows = [row["id"] for o in outputs if not isinstance(o, TaggedOutput) for row in o[1]]
    # Read twice: 47 records each time (record 50 is on page 1 of the first read only; 53 is in the second only).
    assert (len(rows), sorted(set(rows))) == (94, list(range(49, 97)))
    assert [(r.status, r.first_page, r.end_page, r.window_pages, r.announced_total, r.page_size) for r in results] == [
        (WindowStatus.DONE, 0, 3, None, 48, 4),
        (WindowStatus.DONE, 3, 24, 24, 47, 4),  # the second read announced 47
    ]
    assert window_complete(results)
