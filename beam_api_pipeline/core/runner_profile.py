"""What the runner a pipeline is built for can do, read from its options when the graph is built.

- `processes`: how many processes share the job's request budget (see `client.limits.share_of_budget`):
  in-process runs (FnApiRunner in memory or with threads, Prism's loopback workers) = 1; multi_processing =
  direct_num_workers; Dataflow = max_num_workers (num_workers when unset) x the SDK processes per worker,
  which the worker counts in `setup()` (one per vCPU unless the `no_use_multiple_sdk_containers` experiment
  is set). `max_num_workers` given to a local runner divides the budget as a Dataflow job of that many
  workers would, to rehearse it; `processes_from` says where the number comes from.
- `workers`: how many bundles the runner processes at once, the useful number of initial range parts.
- `can_defer`: whether `defer_remainder` is honoured, which is decided here and only here: Dataflow and Prism
  resume a deferred remainder after its delay. FnApiRunner drops deferred remainders when
  direct_num_workers > 1 (apache/beam#19842) and with one worker resumes them at once, which would turn a long
  Retry-After into a stream of 429s.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass

from apache_beam.options.pipeline_options import DebugOptions, DirectOptions, PipelineOptions, WorkerOptions

from beam_api_pipeline.core.runners import is_dataflow, is_prism

#: Dataflow's default worker count when neither max_num_workers nor num_workers is given.
DATAFLOW_DEFAULT_MAX_WORKERS = 100
#: The bundles Prism runs at once, whatever the machine (its `execute.go` limit).
PRISM_BUNDLES_IN_FLIGHT = 8


@dataclass(frozen=True)
class RunnerProfile:
    """How the job's budget is divided and whether long waits may checkpoint."""

    processes: int = 1
    workers: int = 1
    can_defer: bool = False
    per_vcpu_processes: bool = False
    processes_from: str = "one process"

    def processes_on_worker(self) -> int:
        """The number of processes sharing the budget, counted on the worker (vCPUs on Dataflow)."""
        if self.per_vcpu_processes:
            return self.processes * (os.cpu_count() or 1)
        return self.processes


def runner_profile(options: PipelineOptions) -> RunnerProfile:
    """The RunnerProfile of a pipeline built with `options`."""
    worker = options.view_as(WorkerOptions)
    if is_dataflow(options):
        workers = worker.max_num_workers or worker.num_workers or DATAFLOW_DEFAULT_MAX_WORKERS
        experiments = options.view_as(DebugOptions).experiments or []
        return RunnerProfile(
            processes=workers,
            workers=workers,
            can_defer=True,
            per_vcpu_processes="no_use_multiple_sdk_containers" not in experiments,
            processes_from=_dataflow_workers_from(worker),
        )
    rehearsed = worker.max_num_workers
    if is_prism(options):
        if rehearsed:
            return RunnerProfile(rehearsed, PRISM_BUNDLES_IN_FLIGHT, True, processes_from="max_num_workers")
        return RunnerProfile(processes=1, workers=PRISM_BUNDLES_IN_FLIGHT, can_defer=True)
    direct = options.view_as(DirectOptions)
    workers = direct.direct_num_workers if direct.direct_num_workers is not None else 1
    workers = workers or multiprocessing.cpu_count()
    mode = direct.direct_running_mode or "in_memory"
    if workers > 1 and mode == "in_memory":
        workers = 1  # Beam ignores direct_num_workers in this mode
    if rehearsed:
        return RunnerProfile(rehearsed, workers, can_defer=False, processes_from="max_num_workers")
    if mode == "multi_processing":
        return RunnerProfile(workers, workers, can_defer=False, processes_from="direct_num_workers")
    return RunnerProfile(processes=1, workers=workers, can_defer=False)


def _dataflow_workers_from(worker: WorkerOptions) -> str:
    if worker.max_num_workers:
        return "max_num_workers"
    if worker.num_workers:
        return "num_workers"
    return "max_num_workers unset: Dataflow's default"
