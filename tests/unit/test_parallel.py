from datetime import UTC, datetime

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.config import ApiConfig
from beam_api_pipeline.errors import ConfigError
from beam_api_pipeline.parallel import RangeTask, plan_range, range_paging, split_evenly
from beam_api_pipeline.run_plan import WindowTask
from beam_api_pipeline.transforms.runner_profile import RunnerProfile, runner_profile
from beam_api_pipeline.windowing import Window

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


def test_plan_range_cuts_known_pages_into_one_part_per_worker_at_most():
    paging = range_paging(api({"type": "known_pages", "max_concurrent_pages": 4}), "items")
    assert plan_range(TASK, 2000, paging, 1000, workers=3) == RangeTask(TASK, 20, 3)
    assert plan_range(TASK, 2000, paging, 1000, workers=1) == RangeTask(TASK, 20, 1)
    assert plan_range(TASK, 250, paging, 1000, workers=8) == RangeTask(TASK, 3, 1)
    assert plan_range(TASK, 0, paging, 1000, workers=8) == RangeTask(TASK, 1, 1)


def test_plan_range_cuts_offsets_into_chunks_and_reports_max_pages():
    paging = range_paging(api({"type": "calculated_offset", "chunk_size": 300}), "items")
    assert plan_range(TASK, 2000, paging, 1000, workers=1) == RangeTask(TASK, 20, 7)
    assert plan_range(TASK, 2000, paging, 5, workers=1) == RangeTask(TASK, 5, 2, truncated=True)


def test_plan_range_reports_an_unreadable_total():
    paging = range_paging(api({"type": "known_pages"}), "items")
    assert plan_range(TASK, "12", paging, 1000, 1).error == "total_path 'total' is '12', not a record count"


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
