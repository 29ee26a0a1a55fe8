"""Which Beam runner a run uses, and the runner settings refused because Beam would lose data with them.

- No `--runner` (or DirectRunner, SwitchingDirectRunner, FnApiRunner): Beam's in-process FnApiRunner, as
  `SafeFnApiRunner`. Without
  runner options a local run uses worker threads, or one thread when more have nothing to do at once
  (`default_local_args`). Beam's DirectRunner would first try
  to download Prism from GitHub.
- `--runner=PrismRunner`: Beam's portable runner; `--prism_location` names the binary (`make prism` builds
  one), else Beam downloads it from GitHub. A streaming `run` that names no runner uses the project's Prism
  when it is there (`with_project_prism`).
- `--runner=DataflowRunner`: Dataflow.

Refused everywhere (`ConfigError`, exit 2), with the reason in docs/beam-time-flush-bug.md:
- the experiment `data_buffer_time_limit_ms=N` with N > 0: SDK workers then flush their data channels from a
  timer thread, which can cut an element in two; Prism and FnApiRunner read every piece on its own.
- `--direct_test_splits` unless with one worker in `multi_threading` mode: with more workers FnApiRunner
  processes split elements twice, in memory it drops the split stage's input.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apache_beam.options.pipeline_options import DebugOptions, DirectOptions, PipelineOptions, StandardOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner, worker_handlers
from apache_beam.runners.portability.fn_api_runner.fn_runner import BundleManager, ParallelBundleManager

from beam_api_pipeline.core.dofn_specs import cache_dofn_specs
from beam_api_pipeline.core.element_bundles import ElementBoundBundleManager
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.heap import limit_malloc_arenas

#: Worker threads of a local run without runner options whose windows are walked page by page (the fastest mode
#: that passes the runner matrix, see the README's runner table): a walked window takes a thread to itself, so
#: walks go faster with more threads. Each thread more costs a bundle (~20-50 ms, measured in
#: benchmarks/RESULTS.md) to every stage with at least as many elements (`ElementBoundBundleManager`).
WALK_THREADS = 4
#: The options of a local run without runner options when more threads have nothing to do at once: Beam's
#: one-thread mode, whose runner hands elements to its worker in memory instead of over gRPC. On W3-floor
#: (300,000 records as page ranges, `primary_key`) 15 % less CPU and half the peak memory of 2 threads at the
#: same wall time; a one-window run reaches its first request 0.08 s sooner and its end 0.2 s sooner
#: (benchmarks/RESULTS.md, 2026-12-07).
ONE_THREAD_ARGS = ["--direct_num_workers=1", "--direct_running_mode=in_memory"]
#: Runner names (lower case, without `Runner`) that run on the in-process FnApiRunner.
_LOCAL_RUNNERS = {"direct", "switchingdirect", "fnapi"}
_TIME_LIMIT = re.compile(r"data_buffer_time_limit_ms=\+?(-?\d+)")
#: The project's Prism binary (`make prism`), from the working directory; `PRISM_LOCATION` names another.
PROJECT_PRISM = Path(".tools") / "prism"

logger = logging.getLogger(__name__)


class SafeFnApiRunner(FnApiRunner):
    """Beam's FnApiRunner, whose gRPC data channels flush only at element boundaries.

    FnApiRunner starts the data channels of its gRPC server and of its in-process SDK workers (`multi_threading`)
    with `worker_handlers.DATA_BUFFER_TIME_LIMIT_MS`, a one-second timer flush that no pipeline option reaches.
    The timer can send half an element, or drop bytes written while it flushes; the runner then deals the pieces
    to different workers and loses or corrupts records without failing the run (docs/beam-time-flush-bug.md).
    Creating a SafeFnApiRunner sets that limit to 0, size-based flushes only, for every FnApiRunner of the
    process. Its parallel stages run no more bundles than they have elements (`ElementBoundBundleManager`), and
    Beam works out each DoFn's state and timer specs once (`dofn_specs.cache_dofn_specs`).
    """

    def __init__(self) -> None:
        super().__init__()
        worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = 0
        cache_dofn_specs()
        limit_malloc_arenas()  # before the runner's threads start: fewer arenas, less memory held

    def _get_bundle_manager(self, bundle_context_manager: Any) -> BundleManager:
        manager = super()._get_bundle_manager(bundle_context_manager)
        if type(manager) is not ParallelBundleManager:
            return manager
        return ElementBoundBundleManager(
            bundle_context_manager, self._progress_frequency, cache_token_generator=manager._cache_token_generator
        )

    def run_pipeline(self, pipeline: Any, options: PipelineOptions) -> Any:
        """Beam's, with the run's `--beam_plugins` told to its worker processes (`multi_processing`), which
        import them at start as a portable runner's workers do; FnApiRunner gives them no pipeline options."""
        from apache_beam.options.pipeline_options import SetupOptions

        plugins = options.view_as(SetupOptions).beam_plugins
        if plugins:
            self._provision_info.provision_info.pipeline_options.update({"beam_plugins": list(plugins)})
        return super().run_pipeline(pipeline, options)


def runner_name(options: PipelineOptions) -> str:
    """The runner `options` name, lower case, without its module and its `Runner` suffix (`dataflow`,
    `testdataflow`, `prism`, `fnapi`, ...); `direct` when none is named."""
    runner = options.view_as(StandardOptions).runner
    name = runner if isinstance(runner, str) else type(runner).__name__ if runner else "DirectRunner"
    return name.rsplit(".", 1)[-1].lower().removesuffix("runner") or "direct"


def is_dataflow(options: PipelineOptions) -> bool:
    """Whether `options` run the pipeline on Dataflow (or its test runner)."""
    return runner_name(options).endswith("dataflow")


def is_prism(options: PipelineOptions) -> bool:
    """Whether `options` run the pipeline on Prism."""
    return runner_name(options) == "prism"


def is_local_fn_api(options: PipelineOptions) -> bool:
    """Whether `options` run the pipeline on the in-process FnApiRunner."""
    return runner_name(options) in _LOCAL_RUNNERS


def default_local_args(walks_in_parallel: bool) -> list[str]:
    """The runner options of a local run that names none: WALK_THREADS worker threads when windows can be
    walked page by page in parallel (some endpoint is walked, the run has more than one window or a child
    endpoint), else ONE_THREAD_ARGS (every endpoint is fetched as page ranges, whose pages are in flight inside
    the fetch already, or there is one window to walk)."""
    if not walks_in_parallel:
        return list(ONE_THREAD_ARGS)
    return [f"--direct_num_workers={WALK_THREADS}", "--direct_running_mode=multi_threading"]


def with_default_mode(beam_args: list[str], walks_in_parallel: bool) -> list[str]:
    """`beam_args`, with `default_local_args` added when they name no runner and no local running mode."""
    named = {arg.split("=", 1)[0] for arg in beam_args if arg.startswith("--")}
    if named & {"--runner", "--direct_running_mode", "--direct_num_workers", "--direct_test_splits"}:
        return beam_args
    return [*beam_args, *default_local_args(walks_in_parallel)]


def project_prism(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The project's Prism binary: `PRISM_LOCATION`, else PROJECT_PRISM; None when it is not an executable file."""
    location = Path(environ.get("PRISM_LOCATION") or PROJECT_PRISM)
    return location if location.is_file() and os.access(location, os.X_OK) else None


def with_project_prism(beam_args: list[str], streaming: bool, environ: Mapping[str, str] = os.environ) -> list[str]:
    """`beam_args` of a run; for a `streaming` one that names no runner, with `--runner=PrismRunner` and the
    project's Prism (`project_prism`) when it is there, which a log line says. Without it they stay as they are
    and the run is refused (`checks.config_problems`: FnApiRunner runs no streaming pipeline)."""
    named = {arg.split("=", 1)[0] for arg in beam_args if arg.startswith("--")}
    prism = project_prism(environ) if streaming and "--runner" not in named else None
    if prism is None:
        return beam_args
    logger.info("a streaming run and no --runner: running on Prism, %s (give --runner to choose another)", prism)
    return [*beam_args, "--runner=PrismRunner", f"--prism_location={prism}"]


def check_runner_options(options: PipelineOptions) -> None:
    """Raise ConfigError for runner settings with which Beam loses data (see the module docstring)."""
    problems = []
    for experiment in options.view_as(DebugOptions).experiments or []:
        match = _TIME_LIMIT.fullmatch(experiment)
        if match and int(match.group(1)) > 0:
            problems.append(
                f"--experiments={experiment}: refused: SDK workers would flush data from a timer thread, which "
                "can cut an element in two and lose records silently (docs/beam-time-flush-bug.md)"
            )
    direct = options.view_as(DirectOptions)
    one_thread = direct.direct_running_mode == "multi_threading" and direct.direct_num_workers == 1
    if direct.direct_test_splits and is_local_fn_api(options) and not one_thread:
        problems.append(
            "--direct_test_splits: needs --direct_running_mode=multi_threading --direct_num_workers=1: Beam drops "
            "or repeats split elements in every other mode"
        )
    if problems:
        raise ConfigError(problems)


def create_runner(options: PipelineOptions) -> SafeFnApiRunner | None:
    """The runner object for `options`: a SafeFnApiRunner for local runs, else None (Beam's, by name)."""
    return SafeFnApiRunner() if is_local_fn_api(options) else None
