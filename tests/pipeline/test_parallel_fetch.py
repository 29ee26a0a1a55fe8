"""Parallel fetching on DirectRunner against real servers: known_pages and calculated_offset ranges, every
documented runner mode, and a long Retry-After checkpointing the walk instead of sleeping."""

from __future__ import annotations

import dataclasses
import time

import pytest
from apache_beam.io.restriction_trackers import OffsetRange
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker

from beam_api_pipeline.cli import main
from beam_api_pipeline.core.packing import pack
from beam_api_pipeline.core.runner_profile import RunnerProfile
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.range_fetch import FetchRangeFn
from beam_api_pipeline.fetch.range_restriction import PageRangeProvider
from beam_api_pipeline.fetch.range_rules import RangeTask
from beam_api_pipeline.fetch.walk_fetch import WalkPagesFn
from beam_api_pipeline.fetch.walk_restriction import PageWalk, PageWalkTracker
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask
from sample_api import Dataset
from tests.fakes.offset_api import OffsetApi
from tests.support import read_jsonl, stored_watermark, t

END = "2024-01-06T00:00:00Z"


def known_pages(write_config, cap: int = 4, pipeline_id: str = "sample_items", **changes):
    return write_config(
        pipeline_id=pipeline_id,
        api_config={
            "max_concurrent_requests": cap,
            "parallel_config": {"type": "known_pages", "max_concurrent_pages": 8},
            **changes,
        },
    )


def test_known_pages_fetches_pages_concurrently_and_exactly_once(sample_api, write_config, tmp_path):
    sample_api.set_faults(latency_ms=30)
    path, config = known_pages(write_config, cap=4)
    assert main(["run", "--config", str(path), "--end_time", END]) == 0

    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t(END[:10]))
    assert len(ids) == len(set(ids)) == 4 * 48
    stats = sample_api.stats()
    assert 1 < stats["max_in_flight"] <= 4
    assert stats["by_path"]["/items"] == 4 * 5  # 48 records a day, 10 a page: 5 pages, none fetched twice
    assert stored_watermark(config) == t(END[:10])


def test_calculated_offset_fetches_chunks_concurrently_and_exactly_once(write_config, tmp_path):
    dataset = Dataset(records_per_day=95)
    with OffsetApi(dataset, latency_ms=20) as api:
        path, config = write_config(
            api_config={
                "base_url": api.url,
                "max_concurrent_requests": 3,
                "endpoints": {"items": {"path": "/records", "records_path": "records"}},
                "pagination": {"total_path": "count"},
                "parallel_config": {"type": "calculated_offset", "max_concurrent_chunks": 3, "chunk_size": 40},
            }
        )
        assert main(["run", "--config", str(path), "--end_time", "2024-01-05T00:00:00Z"]) == 0
        ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
        assert sorted(ids) == dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
        assert len(ids) == len(set(ids)) == 3 * 95
        assert 1 < api.max_in_flight <= 3
        assert api.requests == 3 * 10
    assert stored_watermark(config) == t("2024-01-05")


@pytest.mark.parametrize(
    "runner_args",
    [
        [],
        ["--direct_num_workers=3", "--direct_running_mode=multi_threading"],
        ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
    ],
    ids=["in_memory", "multi_threading", "multi_processing"],
)
def test_no_record_is_lost_in_any_documented_runner_mode(sample_api, write_config, tmp_path, runner_args):
    sample_api.set_faults(latency_ms=2, rate_limit_every=7, retry_after="1", error_rate=0.05, seed=5)
    path, config = known_pages(write_config, cap=6)
    assert main(["run", "--config", str(path), "--end_time", END, *runner_args]) == 0

    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t(END[:10]))
    assert len(ids) == len(set(ids))
    assert sample_api.stats()["by_status"].get("429", 0) > 0
    assert stored_watermark(config) == t(END[:10])


def test_a_missing_total_fails_the_window_and_names_the_path(sample_api, write_config, tmp_path, capsys):
    path, config = known_pages(write_config, pagination={"total_path": "meta.count"})
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z"]) == 1
    dead = read_jsonl(tmp_path / "dead_letter")
    assert [(d["status"], d["error"]) for d in dead] == [
        ("failed", "total_path 'meta.count' is not in the first page's answer")
    ]
    assert stored_watermark(config) is None


def _fetch_fn(fn_class, config, can_defer: bool):
    fn = fn_class(config, RestExtractor, RunnerProfile(can_defer=can_defer))
    fn.setup()
    return fn


def _view(tracker) -> tuple[ThreadsafeRestrictionTracker, RestrictionTrackerView]:
    threadsafe = ThreadsafeRestrictionTracker(tracker)
    return threadsafe, RestrictionTrackerView(threadsafe)


def test_a_long_retry_after_defers_the_remainder_instead_of_sleeping(sample_api, write_config):
    _, config = known_pages(write_config, pipeline_id="deferring")  # its own limiter: the pause stays here
    walk_fn, range_fn = _fetch_fn(WalkPagesFn, config, can_defer=True), _fetch_fn(FetchRangeFn, config, can_defer=True)
    task = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
    first_page = [{"id": i} for i in range(10)]
    sample_api.set_faults(rate_limit_every=1, retry_after="20")
    try:
        started = time.monotonic()
        walk_state, walk_view = _view(PageWalkTracker(PageWalk()))
        walk_out = list(walk_fn.process(task.to_element(), tracker=walk_view))
        range_state, range_view = _view(PageRangeProvider().create_tracker(OffsetRange(0, 5)))
        element = RangeTask(task, 5, 1, first_page=pack(first_page), page_size=10, announced=48).to_element()
        range_out = list(range_fn.process(element, tracker=range_view))
        elapsed = time.monotonic() - started
    finally:
        walk_fn.teardown()
        range_fn.teardown()

    assert elapsed < 3, "a thread slept on the Retry-After"
    walk_residual, walk_delay = walk_state.deferred_status()
    assert walk_residual == PageWalk()
    assert 19_000_000 < walk_delay.micros <= 20_000_000
    assert [WindowResult.from_element(o.value).status for o in walk_out] == [WindowStatus.PARTIAL]

    range_residual, range_delay = range_state.deferred_status()
    range_primary = range_state.current_restriction()
    assert (range_primary, range_residual) == (OffsetRange(0, 1), OffsetRange(1, 5))
    assert 19_000_000 < range_delay.micros <= 20_000_000
    assert range_out[0] == (task.to_element(), first_page)  # page 0 was emitted before the deferral
    range_result = WindowResult.from_element(range_out[1].value)
    assert dataclasses.replace(range_result, seconds=0) == WindowResult(
        task, WindowStatus.PARTIAL, 1, 10, 0, first_page=0, end_page=1, window_pages=5, announced_total=48, page_size=10
    )
    assert sample_api.stats()["requests"] == 1  # the walk's 429 paused the limiter: the range asked nothing


def test_without_deferral_a_long_retry_after_is_waited_out(sample_api, write_config):
    _, config = write_config(pipeline_id="waiting", api_config={"retry": {"max_attempts": 2, "base_delay": 0.01}})
    fn = _fetch_fn(WalkPagesFn, config, can_defer=False)
    task = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
    sample_api.set_faults(rate_limit_every=2, retry_after="6")
    try:
        started = time.monotonic()
        out = list(fn.process(task.to_element(), tracker=_view(PageWalkTracker(PageWalk()))[1]))
    finally:
        fn.teardown()
    assert time.monotonic() - started >= 6
    result = WindowResult.from_element(out[-1].value)
    assert (result.status, result.records) == (WindowStatus.DONE, 48)


def test_a_dynamic_split_mid_range_hands_the_rest_to_a_residual_exactly_once(sample_api, write_config):
    _, config = write_config(api_config={"parallel_config": {"type": "known_pages", "max_concurrent_pages": 2}})
    fn = _fetch_fn(FetchRangeFn, config, can_defer=False)
    task = WindowTask("items", Window(t("2024-01-02"), t("2024-01-04")))  # 96 records: pages 0..9
    first = [row.as_json() for row in sample_api.dataset.window(t("2024-01-02"), t("2024-01-04"))[:10]]
    element = RangeTask(task, 10, 1, first_page=pack(first), page_size=10, announced=96).to_element()
    provider = PageRangeProvider()
    try:
        state, view = _view(provider.create_tracker(OffsetRange(0, 10)))
        emitted = []
        for output in fn.process(element, tracker=view):
            emitted.append(output)
            if len(emitted) == 3:  # pages 0, 1 and 2 are out
                split = state.try_split(0.5)
        primary, residual = split
        state.check_done()
        resumed = list(fn.process(element, tracker=_view(provider.create_tracker(residual))[1]))
    finally:
        fn.teardown()

    assert (primary, residual) == (OffsetRange(0, 6), OffsetRange(6, 10))
    records = [row["id"] for o in emitted + resumed if isinstance(o, tuple) for row in o[1]]
    assert sorted(records) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))
    assert len(records) == len(set(records)) == 96


def test_a_page_that_fails_for_good_in_the_middle_of_a_range_fails_its_window_not_the_run(
    sample_api, write_config, tmp_path
):
    sample_api.set_faults(answer_faults=("404",), answer_fault_after=2, answer_fault_count=1)  # page 2 of 0..4
    path, config = write_config(api_config={"parallel_config": {"type": "known_pages", "max_concurrent_pages": 1}})
    args = ["run", "--config", str(path), "--end_time", "2024-01-03", "--direct_running_mode=in_memory"]
    assert main(args) == 1

    [dead] = read_jsonl(tmp_path / "dead_letter")
    assert (dead["status"], dead["window_start"], dead["pages_fetched"]) == ("failed", "2024-01-02T00:00:00Z", 2)
    assert "page=3&per_page=10 answered 404" in dead["error"]
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == sample_api.dataset.ids_between(
        t("2024-01-02"), t("2024-01-02T10:00")
    )  # pages 0 and 1, 20 records, written before the failure
    assert stored_watermark(config) is None
