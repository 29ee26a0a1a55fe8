"""Which Beam runner a run uses, and the runner settings refused because Beam would lose data with them.

- No `--runner` (or DirectRunner, FnApiRunner): Beam's in-process FnApiRunner, as `SafeFnApiRunner`. Without
  runner options a local run uses worker threads (`default_local_args`). Beam's DirectRunner would first try
  to download Prism from GitHub.
- `--runner=PrismRunner`: Beam's portable runner; `--prism_location` names the binary (`make prism` builds
  one), else Beam downloads it from GitHub.
- `--runner=DataflowRunner`: Dataflow.

Refused everywhere (`ConfigError`, exit 2), with the reason in docs/beam-time-flush-bug.md:
- the experiment `data_buffer_time_limit_ms=N` with N > 0: SDK workers then flush their data channels from a
  timer thread, which can cut an element in two; Prism and FnApiRunner read every piece on its own.
- `--direct_test_splits` unless with one worker in `multi_threading` mode: with more workers FnApiRunner
  processes split elements twice, in memory it drops the split stage's input.
"""

from __future__ import annotations

import json
import re

from apache_beam.options.pipeline_options import DebugOptions, DirectOptions, PipelineOptions, StandardOptions
from apache_beam.portability import python_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from beam_api_pipeline.errors import ConfigError

#: Worker threads of a local run without runner options (the fastest mode that passes the runner matrix, see
#: the README's runner table). A window walked page by page takes a thread to itself, so walks go faster with
#: more threads; a window fetched as a page range has its pages in flight at once already. Each thread more
#: costs every stage of every run a bundle, ~20-50 ms (measured in benchmarks/RESULTS.md).
WALK_THREADS = 4
RANGE_THREADS = 2
#: A data-buffer time limit that turns the timer flush off: SDK workers flush only after a whole element.
_ELEMENT_BOUNDARY_FLUSH_ONLY = -1
_LOCAL_RUNNERS = {"direct", "fnapi"}
_TIME_LIMIT = re.compile(r"data_buffer_time_limit_ms=(-?\d+)")


class SafeFnApiRunner(FnApiRunner):
    """Beam's FnApiRunner, whose in-process gRPC SDK workers (`multi_threading`) flush their data channels
    only at element boundaries.

    Beam starts them with a one-second timer flush (`worker_handlers.DATA_BUFFER_TIME_LIMIT_MS`, which a
    pipeline option cannot turn off) that can send half an element; the runner then deals the pieces to
    different workers and loses or corrupts records without failing the run.
    """

    def run_via_runner_api(self, pipeline_proto: beam_runner_api_pb2.Pipeline, options: PipelineOptions):
        for environment in pipeline_proto.components.environments.values():
            if environment.urn == python_urns.EMBEDDED_PYTHON_GRPC:
                config = json.loads(environment.payload or b"{}")
                config["data_buffer_time_limit_ms"] = _ELEMENT_BOUNDARY_FLUSH_ONLY
                environment.payload = json.dumps(config).encode()
        return super().run_via_runner_api(pipeline_proto, options)


def runner_name(options: PipelineOptions) -> str:
    """The runner `options` name, lower case without the `runner` suffix (`dataflow`, `prism`, `fnapi`, ...);
    `direct` when none is named."""
    runner = options.view_as(StandardOptions).runner
    name = runner if isinstance(runner, str) else type(runner).__name__ if runner else "DirectRunner"
    return name.lower().removesuffix("runner") or "direct"


def is_dataflow(options: PipelineOptions) -> bool:
    """Whether `options` run the pipeline on Dataflow."""
    return runner_name(options) == "dataflow"


def is_prism(options: PipelineOptions) -> bool:
    """Whether `options` run the pipeline on Prism."""
    return runner_name(options) == "prism"


def is_local_fn_api(options: PipelineOptions) -> bool:
    """Whether `options` run the pipeline on the in-process FnApiRunner."""
    return runner_name(options) in _LOCAL_RUNNERS


def default_local_args(walks_pages: bool) -> list[str]:
    """The runner options of a local run that names none: worker threads, WALK_THREADS of them when some
    endpoint is walked page by page, else RANGE_THREADS."""
    threads = WALK_THREADS if walks_pages else RANGE_THREADS
    return [f"--direct_num_workers={threads}", "--direct_running_mode=multi_threading"]


def with_default_mode(beam_args: list[str], walks_pages: bool) -> list[str]:
    """`beam_args`, with `default_local_args` added when they name no runner and no local running mode."""
    named = {arg.split("=", 1)[0] for arg in beam_args if arg.startswith("--")}
    if named & {"--runner", "--direct_running_mode", "--direct_num_workers"}:
        return beam_args
    return [*beam_args, *default_local_args(walks_pages)]


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
