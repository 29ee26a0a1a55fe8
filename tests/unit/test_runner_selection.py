"""Which runner a run uses, the default local mode, and the runner settings refused because Beam loses data
with them."""

from __future__ import annotations

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import worker_handlers

from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.runner_profile import PRISM_BUNDLES_IN_FLIGHT, RunnerProfile, runner_profile
from beam_api_pipeline.core.runners import (
    WALK_THREADS,
    SafeFnApiRunner,
    check_runner_options,
    create_runner,
    runner_name,
    with_default_mode,
)


def test_a_run_without_runner_options_walking_windows_in_parallel_uses_worker_threads():
    assert with_default_mode(["--temp_location=/tmp"], walks_in_parallel=True) == [
        "--temp_location=/tmp",
        f"--direct_num_workers={WALK_THREADS}",
        "--direct_running_mode=multi_threading",
    ]


def test_a_run_without_runner_options_and_nothing_to_walk_in_parallel_uses_one_thread():
    assert with_default_mode(["--temp_location=/tmp"], walks_in_parallel=False) == [
        "--temp_location=/tmp",
        "--direct_num_workers=1",
        "--direct_running_mode=in_memory",
    ]


@pytest.mark.parametrize(
    "args", [["--runner=PrismRunner"], ["--direct_running_mode=in_memory"], ["--direct_num_workers", "2"]]
)
def test_named_runner_options_are_kept_as_they_are(args):
    assert with_default_mode(args, walks_in_parallel=True) == args


@pytest.mark.parametrize("runner", [None, "DirectRunner", "FnApiRunner"])
def test_local_runs_use_the_fn_api_runner_that_flushes_only_whole_elements(runner):
    args = [f"--runner={runner}"] if runner else []
    assert isinstance(create_runner(PipelineOptions(args)), SafeFnApiRunner)


@pytest.mark.parametrize("runner", ["PrismRunner", "DataflowRunner"])
def test_other_runners_are_beams_own(runner):
    assert create_runner(PipelineOptions([f"--runner={runner}"])) is None


def test_prism_defers_and_runs_in_one_process():
    profile = runner_profile(PipelineOptions(["--runner=PrismRunner"]))
    assert profile == RunnerProfile(processes=1, workers=PRISM_BUNDLES_IN_FLIGHT, can_defer=True)


@pytest.mark.parametrize("runner", ["PrismRunner", "DataflowRunner", "DirectRunner"])
def test_a_timer_flush_of_worker_data_is_refused_on_every_runner(runner):
    options = PipelineOptions([f"--runner={runner}", "--experiments=data_buffer_time_limit_ms=1000"])
    with pytest.raises(ConfigError) as raised:
        check_runner_options(options)
    assert raised.value.problems == [
        "--experiments=data_buffer_time_limit_ms=1000: refused: SDK workers would flush data from a timer thread, "
        "which can cut an element in two and lose records silently (docs/beam-time-flush-bug.md)"
    ]


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_data_flushed_only_at_element_boundaries_is_accepted(limit):
    check_runner_options(PipelineOptions([f"--experiments=data_buffer_time_limit_ms={limit}"]))


@pytest.mark.parametrize(
    "mode", [["--direct_num_workers=2", "--direct_running_mode=multi_threading"], ["--direct_running_mode=in_memory"]]
)
def test_injected_test_splits_are_refused_where_beam_drops_or_repeats_elements(mode):
    options = PipelineOptions([*mode, '--direct_test_splits={"ReadFromApi/WalkPages": {"timings": [0]}}'])
    with pytest.raises(ConfigError, match="--direct_test_splits: needs --direct_running_mode=multi_threading"):
        check_runner_options(options)


def test_injected_test_splits_run_with_one_worker_thread():
    args = ["--direct_num_workers=1", "--direct_running_mode=multi_threading", '--direct_test_splits={"a": {}}']
    check_runner_options(PipelineOptions(args))


@pytest.mark.parametrize(
    ("runner", "name"),
    [
        (None, "direct"),
        ("direct", "direct"),
        ("SwitchingDirectRunner", "switchingdirect"),
        ("apache_beam.runners.portability.fn_api_runner.FnApiRunner", "fnapi"),
        ("TestDataflowRunner", "testdataflow"),
        ("PrismRunner", "prism"),
    ],
)
def test_runner_names_are_read_without_module_and_suffix(runner, name):
    assert runner_name(PipelineOptions([f"--runner={runner}"] if runner else [])) == name


@pytest.mark.parametrize("runner", ["direct", "SwitchingDirectRunner", "apache_beam.runners.FnApiRunner"])
def test_every_name_of_the_local_runner_gets_the_safe_one(runner):
    assert isinstance(create_runner(PipelineOptions([f"--runner={runner}"])), SafeFnApiRunner)


def test_dataflows_test_runner_is_dataflow():
    assert runner_profile(PipelineOptions(["--runner=TestDataflowRunner", "--max_num_workers=3"])).can_defer


def test_the_safe_runner_turns_the_timer_flush_off_for_the_runner_and_its_workers(monkeypatch):
    monkeypatch.setattr(worker_handlers, "DATA_BUFFER_TIME_LIMIT_MS", 1000)  # Beam's own value
    SafeFnApiRunner()
    assert worker_handlers.DATA_BUFFER_TIME_LIMIT_MS == 0


def test_injected_test_splits_name_the_mode_themselves():
    args = ['--direct_test_splits={"a": {}}']
    assert with_default_mode(args, walks_in_parallel=True) == args
