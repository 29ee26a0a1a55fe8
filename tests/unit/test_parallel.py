from datetime import UTC, datetime

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.config import ApiConfig
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.runner_profile import RunnerProfile, runner_profile
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.fetch.range_rules import (
    RangeTask,
    past_total_problem,
    plan_range,
    range_page_problem,
    range_paging,
    split_evenly,
)
from beam_api_pipeline.plan.run_plan import WindowTask

TASK = WindowTask("items", Window(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)))


def api(parallel, **pagination) -> ApiConfig:
    return ApiConfig(
        base_url="http://127.0.0.1:1",
        endpoints={"items": {"path": "/items"}},
        pagination={"page_size": 100, "total_path": "total", **pagination},
        parallel_config=parallel,
    )


def test_known_pages_ask_for_page_numbers_and_offsets_for_offsets():
    pages = range_paging(api({"type": "known_pages", "safe_page_size": 50}, start_page=1), "items")
    assert pages.params(0) == {"page": 1, "per_page": 50}
    assert pages.params(3) == {"page": 4, "per_page": 50}
    offsets = range_paging(api({"type": "calculated_offset", "chunk_size": 250}), "items")
    assert offsets.params(3) == {"offset": 300, "limit": 100}
    assert offsets.pages_per_part == 2
    assert range_paging(api({"type": "time_window"}), "items") is None


def test_a_range_type_without_total_path_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"^api_config\.pagination\.total_path: required when parallel_config"):
        range_paging(api({"type": "known_pages"}, total_path=None), "items")


def planned(stop, parts, size=100, announced=None, **more) -> RangeTask:
    return RangeTask(TASK, stop, parts, page_size=size, announced=announced, **more)


def test_plan_range_cuts_known_pages_into_one_part_per_worker_at_most():
    paging = range_paging(api({"type": "known_pages", "max_concurrent_pages": 4}), "items")
    assert plan_range(TASK, 2000, paging, 1000, workers=3, served=100) == planned(20, 3, announced=2000)
    assert plan_range(TASK, 2000, paging, 1000, workers=1, served=100) == planned(20, 1, announced=2000)
    assert plan_range(TASK, 250, paging, 1000, workers=8, served=100) == planned(3, 1, announced=250)
    assert plan_range(TASK, 0, paging, 1000, workers=8, served=0) == planned(1, 1, announced=0)


def test_plan_range_cuts_offsets_into_chunks_and_reports_max_pages():
    paging = range_paging(api({"type": "calculated_offset", "chunk_size": 300}), "items")
    assert plan_range(TASK, 2000, paging, 1000, workers=1, served=100) == planned(20, 7, announced=2000)
    assert plan_range(TASK, 2000, paging, 5, 1, 100) == planned(5, 2, announced=2000, truncated=True)


def test_plan_range_plans_in_the_page_size_the_api_served():
    known = range_paging(api({"type": "known_pages", "max_concurrent_pages": 4}), "items")
    assert plan_range(TASK, 2000, known, 1000, workers=3, served=40) == planned(50, 3, size=40, announced=2000)
    assert plan_range(TASK, 30, known, 1000, workers=3, served=30) == planned(1, 1, announced=30)  # all of it
    offsets = range_paging(api({"type": "calculated_offset", "chunk_size": 300}), "items")
    assert plan_range(TASK, 2000, offsets, 1000, workers=1, served=50) == planned(40, 7, size=50, announced=2000)
    empty = plan_range(TASK, 12, offsets, 1000, workers=1, served=0)
    assert empty.error == "the first page has no records while total_path 'total' announces 12"


def test_each_page_of_a_range_is_held_to_the_plan():
    ranged = planned(3, 1, size=10, announced=25)
    assert [range_page_problem(ranged, index, served, 25) for index, served in [(0, 10), (1, 10), (2, 5)]] == [None] * 3
    assert range_page_problem(ranged, 2, 4, 25) == (
        "4 records served where the plan of 25 records in pages of 10 expects 5: records moved while the window "
        "was read, or the API stopped early"
    )
    assert range_page_problem(ranged, 1, 10, 24) == (
        "the API announced 25 records on the window's first page and 24 on this one: records moved while the "
        "window was read; sort by a stable key or use cursor pagination"
    )
    assert past_total_problem(ranged, 0) is None
    assert past_total_problem(ranged, 10) == (
        "the planned last page came back full and the page after it has 10 more records: the API holds more than "
        "the 25 records its total announced"
    )


def test_plan_range_reports_an_unreadable_total():
    paging = range_paging(api({"type": "known_pages"}), "items")
    assert plan_range(TASK, "12", paging, 1000, 1, 10).error == "total_path 'total' is '12', not a record count"


def test_split_evenly_covers_the_range_without_gaps_or_empty_parts():
    assert split_evenly(0, 10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert split_evenly(1, 3, 8) == [(1, 2), (2, 3)]
    assert split_evenly(0, 1, 1) == [(0, 1)]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], RunnerProfile(1, 1, False)),
        (["--direct_num_workers=4", "--direct_running_mode=multi_threading"], RunnerProfile(1, 4, False)),
        (
            ["--direct_num_workers=3", "--direct_running_mode=multi_processing"],
            RunnerProfile(3, 3, False, processes_from="direct_num_workers"),
        ),
        (
            ["--direct_num_workers=3", "--direct_running_mode=multi_processing", "--max_num_workers=100"],
            RunnerProfile(100, 3, False, processes_from="max_num_workers"),
        ),
        (
            ["--runner=PrismRunner", "--max_num_workers=100"],
            RunnerProfile(100, 8, True, processes_from="max_num_workers"),
        ),
        (
            ["--runner=DataflowRunner", "--max_num_workers=20"],
            RunnerProfile(20, 20, True, True, processes_from="max_num_workers"),
        ),
        (
            ["--runner=DataflowRunner", "--num_workers=5", "--experiments=no_use_multiple_sdk_containers"],
            RunnerProfile(5, 5, True, False, processes_from="num_workers"),
        ),
        (
            ["--runner=DataflowRunner"],
            RunnerProfile(100, 100, True, True, processes_from="max_num_workers unset: Dataflow's default"),
        ),
    ],
)
def test_runner_profile_defers_only_on_dataflow_and_divides_the_budget_by_processes(args, expected):
    assert runner_profile(PipelineOptions(args)) == expected
