"""The page-range read alone, against the sample API over HTTP: PlanRangesFn (each window's first page read for
its total, the window planned as a range of pages, or sent to be walked when the API gives no total and none is
required), and the two splittable fetch DoFns (FetchRangeFn and WalkPagesFn, inside ReadFromApi) with splits
injected at fractions 0, 0.25 and 0.5 on FnApiRunner: the one promise here that depends on the runner."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_api_pipeline.core.runner_profile import RunnerProfile
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.range_planning import WALKS, PlanRangesFn
from beam_api_pipeline.fetch.range_rules import RangeTask
from beam_api_pipeline.plan.run_plan import window_tasks
from sample_api import Dataset, SampleApi
from tests.support import t
from tests.transform_support import Read, config, pipeline, run

KNOWN_PAGES = {"max_concurrent_requests": 4, "parallel_config": {"type": "known_pages", "max_concurrent_pages": 2}}
STEPS = {"walk": "ReadFromApi/WalkPages/ParDo(WalkPagesFn)", "range": "ReadFromApi/FetchRanges/ParDo(FetchRangeFn)"}
SINGLE_THREAD = ["--direct_num_workers=1", "--direct_running_mode=multi_threading"]


def _planned(element) -> tuple:
    planned = RangeTask.from_element(element)
    start = f"{planned.task.window.start:%Y-%m-%d}"
    return start, planned.stop, planned.truncated, planned.error, planned.page_size, planned.announced


def test_plan_ranges_reads_each_window_s_total_from_its_first_page(sample_api, tmp_path):
    cfg = config(tmp_path, sample_api.url, api_config=KNOWN_PAGES)
    tasks = [task.to_element() for task in window_tasks(cfg, t("2024-01-02"), t("2024-01-05"))]
    p = pipeline()
    planned = (
        p
        | beam.Create(tasks)
        | beam.ParDo(PlanRangesFn(cfg, RestExtractor, RunnerProfile())).with_outputs(WALKS, main="ranges")
    )
    expected = [(day, 5, False, None, 10, 48) for day in ("2024-01-02", "2024-01-03", "2024-01-04")]
    assert_that(planned.ranges | beam.Map(_planned), equal_to(expected), label="Ranges")
    assert_that(planned[WALKS], equal_to([]), label="NoWalks")
    counters = run(p)
    assert counters["page_ranges"] == 3
    assert sample_api.stats()["requests"] == 3  # the first page of each window, once


def test_plan_ranges_sends_a_window_without_a_total_to_be_walked_unless_one_is_required(sample_api, tmp_path):
    parallel = {**KNOWN_PAGES["parallel_config"], "require_total_count": False}
    changes = {**KNOWN_PAGES, "parallel_config": parallel, "pagination": {"total_path": "no.such.total"}}
    cfg = config(tmp_path, sample_api.url, api_config=changes)
    tasks = [task.to_element() for task in window_tasks(cfg, t("2024-01-02"), t("2024-01-03"))]
    p = pipeline()
    planned = (
        p
        | beam.Create(tasks)
        | beam.ParDo(PlanRangesFn(cfg, RestExtractor, RunnerProfile())).with_outputs(WALKS, main="ranges")
    )
    assert_that(planned.ranges, equal_to([]), label="NoRanges")
    assert_that(planned[WALKS], equal_to(tasks), label="Walks")
    run(p)


def test_plan_ranges_fails_a_window_whose_first_page_has_no_total_when_one_is_required(sample_api, tmp_path):
    changes = {**KNOWN_PAGES, "pagination": {"total_path": "no.such.total"}}
    cfg = config(tmp_path, sample_api.url, api_config=changes)
    tasks = [task.to_element() for task in window_tasks(cfg, t("2024-01-02"), t("2024-01-03"))]
    with pipeline() as p:
        planned = p | beam.Create(tasks) | beam.ParDo(PlanRangesFn(cfg, RestExtractor, RunnerProfile()))
        error = "total_path 'no.such.total' is not in the first page's answer"
        assert_that(planned | beam.Map(lambda e: RangeTask.from_element(e).error), equal_to([error]))


@pytest.mark.parametrize("fraction", [0, 0.25, 0.5])
@pytest.mark.parametrize("kind", ["walk", "range"])
def test_splits_injected_into_each_fetch_dofn_keep_every_record_once(tmp_path, kind, fraction):
    with SampleApi(Dataset(days=10, records_per_day=200)) as api:
        api.set_faults(latency_ms=20)
        # The first split keeps one window in the bundle; the second lands inside its walk at `fraction`.
        splits = {STEPS[kind]: {"timings": [0, 0.1], "fractions": [0.01, fraction]}}
        shape = {"max_concurrent_requests": 4, "pagination": {"page_size": 50}}
        if kind == "range":
            shape["parallel_config"] = {"type": "known_pages", "max_concurrent_pages": 1}
        cfg = config(tmp_path, api.url, api_config=shape)
        options = [*SINGLE_THREAD, f"--direct_test_splits={json.dumps(splits)}"]
        read = Read(tmp_path, cfg, "2024-01-02", "2024-01-06", *options)

        assert read.counters["split_parts"] == 1
        assert read.ids() == api.dataset.ids_between(t("2024-01-02"), t("2024-01-06"))  # each once
        assert len(read.ids()) == 800
        assert read.watermarks == {"items": t("2024-01-06")}
