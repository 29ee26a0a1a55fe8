"""Window keys on ReadFromApi alone (its records through TransformRecords), in a TestPipeline on the local runner
against the sample API over HTTP: sliding windows, `window.timestamp_field`, `max_concurrent_windows` (and the
walk's window slot, on WalkPagesFn alone), and the `page_ranges` counter; exact ids, requests, counters and the
watermark a commit of the results stores. Records placed outside every window, which fail the whole run, are in
tests/pipeline/test_config_semantics_pipeline.py."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker

from beam_api_pipeline.core.runner_profile import RunnerProfile
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.walk_fetch import WalkPagesFn
from beam_api_pipeline.fetch.walk_restriction import PageWalk, PageWalkTracker
from beam_api_pipeline.fetch.window_slots import WindowSlots, shared_window_slots
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask
from tests.support import t
from tests.transform_support import Read
from tests.transform_support import config as transform_config

CURSOR_EVENTS = {
    "endpoints": {"items": {"path": "/events", "records_path": "data", "primary_key": "id"}},
    "pagination": {"strategy": "cursor", "page_size": 2, "cursor_path": "meta.next_cursor"},
}


def test_sliding_windows_keep_each_record_once_and_request_the_window_size(sample_api, tmp_path):
    window = {"window_type": "sliding", "window_size": "6h", "window_slide": "2h"}
    api_config = {"watermark": {"window": window}, "transform": {"add_metadata": True}}
    read = Read(
        tmp_path, transform_config(tmp_path, sample_api.url, api_config=api_config), "2024-01-02", "2024-01-02T12:00"
    )

    rows = read.rows["items"]
    ids = [row["id"] for row in rows]
    dataset = sample_api.dataset
    assert sorted(ids) == dataset.ids_between(t("2024-01-02"), t("2024-01-02T12:00"))
    assert len(ids) == len(set(ids)) == 24
    ends = [t("2024-01-02") + timedelta(hours=h) for h in (2, 4, 6, 8, 10, 12)]
    # Each row is kept by the 2-hour step that holds it: 4 records a step (one every 30 minutes).
    by_step = sorted((row["_window_start"], row["_window_end"], row["id"]) for row in rows)
    assert by_step == [
        (f"{end - timedelta(hours=2):%Y-%m-%dT%H:%M:%SZ}", f"{end:%Y-%m-%dT%H:%M:%SZ}", record_id)
        for end in ends
        for record_id in dataset.ids_between(end - timedelta(hours=2), end)
    ]
    # Each step's requests reached back the whole window size: the API answered 6 hours of records per step.
    fetched = sum(len(dataset.ids_between(end - timedelta(hours=6), end)) for end in ends)
    assert read.counters["records_fetched"] == read.records("items") == fetched
    assert fetched == 6 * 12
    assert read.counters["requests"] == sample_api.stats()["requests"] == 6 * 2  # 12 records, 10 a page
    assert read.watermarks == {"items": t("2024-01-02T12:00")}


def test_records_are_placed_by_the_window_timestamp_field(sample_api, tmp_path):
    # `value` (an integer: epoch seconds in 1970) is the watermark's field, `updated_at` the window's.
    watermark = {"timestamp_field": "value", "window": {"timestamp_field": "updated_at"}}
    read = Read(
        tmp_path,
        transform_config(tmp_path, sample_api.url, api_config={"watermark": watermark}),
        "2024-01-02",
        "2024-01-04",
    )
    ids = [row["id"] for row in read.rows["items"]]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))
    assert len(ids) == len(set(ids)) == 2 * 48
    assert read.watermarks == {"items": t("2024-01-04")}


@pytest.mark.parametrize(
    ("parallel", "fewest", "most"),
    [({"parallel_config": {"type": "time_window", "max_concurrent_windows": 2}}, 2, 2), ({}, 3, 8)],
    ids=["capped", "uncapped"],
)
def test_max_concurrent_windows_caps_the_window_walks_in_flight(sample_api, tmp_path, parallel, fewest, most):
    sample_api.set_faults(latency_ms=30)
    api = {**CURSOR_EVENTS, "watermark": {"window": {"window_size": "3h"}}, **parallel}
    args = ["--direct_num_workers=8", "--direct_running_mode=multi_threading"]
    read = Read(tmp_path, transform_config(tmp_path, sample_api.url, api_config=api), "2024-01-02", "2024-01-03", *args)

    ids = [row["id"] for row in read.rows["items"]]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    assert len(ids) == len(set(ids)) == 48
    assert read.watermarks == {"items": t("2024-01-03")}
    stats = sample_api.stats()
    assert stats["by_path"]["/events"] == 8 * 3  # 6 records a window, 2 a page: one request at a time per walk
    assert fewest <= stats["max_in_flight"] <= most


def slot_taken_within(slots: WindowSlots, seconds: float) -> bool:
    """Whether another thread gets a slot of `slots` within `seconds` (it gives it back at once)."""
    taken = threading.Event()

    def take() -> None:
        with slots.hold():
            taken.set()

    threading.Thread(target=take, daemon=True).start()
    return taken.wait(seconds)


def new_walk() -> tuple[ThreadsafeRestrictionTracker, RestrictionTrackerView]:
    """A whole-window walk's tracker, and the view of it that `process` gets."""
    state = ThreadsafeRestrictionTracker(PageWalkTracker(PageWalk()))
    return state, RestrictionTrackerView(state)


def test_a_walk_holds_its_window_slot_while_it_fetches_and_gives_it_back_when_deferred(sample_api, tmp_path):
    parallel = {"type": "time_window", "max_concurrent_windows": 1}
    config = transform_config(
        tmp_path, sample_api.url, pipeline_id="window_slot_deferral", api_config={"parallel_config": parallel}
    )
    fn = WalkPagesFn(config, RestExtractor, RunnerProfile(can_defer=True))
    fn.setup()
    slots = shared_window_slots("window_slot_deferral", 1)  # the walk's: one per pipeline and process
    day = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
    try:
        walk = fn.process(day.to_element(), tracker=new_walk()[1])
        outputs = [next(walk)]
        assert not slot_taken_within(slots, 0.3)  # the walk is between two pages: its slot stays taken
        outputs += list(walk)

        sample_api.set_faults(rate_limit_every=1, retry_after="20")
        state, view = new_walk()
        deferred = list(fn.process(day.to_element(), tracker=view))
    finally:
        fn.teardown()
    *batches, result = outputs
    assert [row["id"] for _, rows in batches for row in rows] == sample_api.dataset.ids_between(
        t("2024-01-02"), t("2024-01-03")
    )
    done = WindowResult.from_element(result.value)
    assert (done.status, done.records) == (WindowStatus.DONE, 48)
    assert [WindowResult.from_element(o.value).status for o in deferred] == [WindowStatus.PARTIAL]
    assert state.deferred_status()[0] == PageWalk()
    assert slot_taken_within(slots, 5)  # the deferred walk gave its slot back


def test_page_ranges_counts_one_per_window_planned_as_a_range(sample_api, tmp_path):
    api_config = {"parallel_config": {"type": "known_pages"}}
    read = Read(tmp_path, transform_config(tmp_path, sample_api.url, api_config=api_config), "2024-01-02", "2024-01-05")

    assert read.windows_done() == (3, 0)
    assert read.counters["page_ranges"] == 3
    assert read.watermarks == {"items": t("2024-01-05")}
