"""Parallel fetching: known_pages and calculated_offset ranges on ReadFromApi alone (its records through
TransformRecords), in a TestPipeline against real servers on 127.0.0.1 (the sample API, an offset API), on every
documented local runner mode: exact ids, each page once, the requests in flight, each failure as its dead-letter
row and the watermark a commit of the results stores; and the fetch DoFns alone: a long Retry-After checkpoints
the walk instead of sleeping, a dynamic split mid-range hands the rest to a residual exactly once."""

from __future__ import annotations

import dataclasses
import time

import pytest
from apache_beam.io.restriction_trackers import OffsetRange
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker

from beam_api_pipeline.config import PipelineConfig
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
from tests.support import t
from tests.transform_support import Read
from tests.transform_support import config as transform_config

END = "2024-01-06T00:00:00Z"


def known_pages(api_url: str, folder, cap: int = 4, pipeline_id: str = "sample_items", **changes) -> PipelineConfig:
    return transform_config(
        folder,
        api_url,
        pipeline_id=pipeline_id,
        api_config={
            "max_concurrent_requests": cap,
            "parallel_config": {"type": "known_pages", "max_concurrent_pages": 8},
            **changes,
        },
    )


def test_known_pages_fetches_pages_concurrently_and_exactly_once(sample_api, tmp_path):
    sample_api.set_faults(latency_ms=30)
    read = Read(tmp_path, known_pages(sample_api.url, tmp_path, cap=4), "2024-01-02", END)

    ids = read.ids()
    assert ids == sample_api.dataset.ids_between(t("2024-01-02"), t(END[:10]))
    assert len(ids) == len(set(ids)) == 4 * 48
    stats = sample_api.stats()
    assert 1 < stats["max_in_flight"] <= 4
    assert stats["by_path"]["/items"] == 4 * 5  # 48 records a day, 10 a page: 5 pages, none fetched twice
    assert read.watermarks == {"items": t(END[:10])}


def test_calculated_offset_fetches_chunks_concurrently_and_exactly_once(tmp_path):
    dataset = Dataset(records_per_day=95)
    with OffsetApi(dataset, latency_ms=20) as api:
        cfg = transform_config(
            tmp_path,
            api.url,
            api_config={
                "max_concurrent_requests": 3,
                "endpoints": {"items": {"path": "/records", "records_path": "records"}},
                "pagination": {"total_path": "count"},
                "parallel_config": {"type": "calculated_offset", "max_concurrent_chunks": 3, "chunk_size": 40},
            },
        )
        read = Read(tmp_path, cfg, "2024-01-02", "2024-01-05")
        ids = read.ids()
        assert ids == dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
        assert len(ids) == len(set(ids)) == 3 * 95
        assert 1 < api.max_in_flight <= 3
        assert api.requests == 3 * 10
    assert read.watermarks == {"items": t("2024-01-05")}


@pytest.mark.parametrize(
    "runner_args",
    [
        [],
        ["--direct_num_workers=3", "--direct_running_mode=multi_threading"],
        ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
    ],
    ids=["in_memory", "multi_threading", "multi_processing"],
)
def test_no_record_is_lost_in_any_documented_runner_mode(sample_api, tmp_path, runner_args):
    sample_api.set_faults(latency_ms=2, rate_limit_every=7, retry_after="1", error_rate=0.05, seed=5)
    read = Read(tmp_path, known_pages(sample_api.url, tmp_path, cap=6), "2024-01-02", END, *runner_args)

    ids = read.ids()
    assert ids == sample_api.dataset.ids_between(t("2024-01-02"), t(END[:10]))
    assert len(ids) == len(set(ids))
    assert sample_api.stats()["by_status"].get("429", 0) > 0
    assert read.watermarks == {"items": t(END[:10])}


def test_a_missing_total_fails_the_window_and_names_the_path(sample_api, tmp_path):
    cfg = known_pages(sample_api.url, tmp_path, pagination={"total_path": "meta.count"})
    read = Read(tmp_path, cfg, "2024-01-02", "2024-01-03")
    assert [(d["status"], d["error"]) for d in read.failures] == [
        ("failed", "total_path 'meta.count' is not in the first page's answer")
    ]
    assert read.watermarks == {"items": None}


def test_a_page_that_fails_for_good_in_the_middle_of_a_range_fails_its_window_only(sample_api, tmp_path):
    sample_api.set_faults(answer_faults=("404",), answer_fault_after=2, answer_fault_count=1)  # page 2 of 0..4
    parallel = {"parallel_config": {"type": "known_pages", "max_concurrent_pages": 1}}
    cfg = transform_config(tmp_path, sample_api.url, api_config=parallel)
    read = Read(tmp_path, cfg, "2024-01-02", "2024-01-03", "--direct_running_mode=in_memory")

    [dead] = read.failures
    assert (dead["status"], dead["window_start"], dead["pages_fetched"]) == ("failed", "2024-01-02T00:00:00Z", 2)
    assert "page=3&per_page=10 answered 404" in dead["error"]
    assert read.ids() == sample_api.dataset.ids_between(
        t("2024-01-02"), t("2024-01-02T10:00")
    )  # pages 0 and 1, 20 records, read before the failure
    assert read.watermarks == {"items": None}


def _fetch_fn(fn_class, config, can_defer: bool):
    fn = fn_class(config, RestExtractor, RunnerProfile(can_defer=can_defer))
    fn.setup()
    return fn


def _view(tracker) -> tuple[ThreadsafeRestrictionTracker, RestrictionTrackerView]:
    threadsafe = ThreadsafeRestrictionTracker(tracker)
    return threadsafe, RestrictionTrackerView(threadsafe)


def test_a_long_retry_after_defers_the_remainder_instead_of_sleeping(sample_api, tmp_path):
    config = known_pages(sample_api.url, tmp_path, pipeline_id="deferring")  # its own limiter: the pause stays here
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


def test_without_deferral_a_long_retry_after_is_waited_out(sample_api, tmp_path):
    retry = {"max_attempts": 2, "base_delay": 0.01}
    config = transform_config(tmp_path, sample_api.url, pipeline_id="waiting", api_config={"retry": retry})
    fn = _fetch_fn(WalkPagesFn, config, can_defer=False)
    task = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
    # the second request answers 429 with Retry-After: 6, once
    sample_api.set_faults(answer_faults=("429",), answer_fault_after=1, answer_fault_count=1, retry_after="6")
    try:
        started = time.monotonic()
        out = list(fn.process(task.to_element(), tracker=_view(PageWalkTracker(PageWalk()))[1]))
    finally:
        fn.teardown()
    assert time.monotonic() - started >= 6
    result = WindowResult.from_element(out[-1].value)
    assert (result.status, result.records) == (WindowStatus.DONE, 48)


def test_a_dynamic_split_mid_range_hands_the_rest_to_a_residual_exactly_once(sample_api, tmp_path):
    parallel = {"parallel_config": {"type": "known_pages", "max_concurrent_pages": 2}}
    config = transform_config(tmp_path, sample_api.url, api_config=parallel)
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
