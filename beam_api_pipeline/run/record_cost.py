"""The CPU a record costs a run's workers, Beam's own work included, measured once by `plan`: the sampled pages'
records go through the run's record stages (`TransformRecords`: placement, de-duplication by key, the transform;
`RowSchemas`; `WriteOutputs` to JSON-lines files in a temporary folder) on the project's in-process runner, timed
with the process's CPU clock, less the same graph run over no records (Beam's fixed cost of a pipeline, which is
not a record's), each run after a garbage collection.

The sample is run `copies` times over (at least `MIN_RECORDS` records, at most `MAX_COPIES` copies) so that the
records' cost stands well above what varies between runs (a pipeline's fixed cost varies by some 0.1 s; what the
process does the first time it runs records, some 0.1 s, counts as the records'); each copy's window ends a
microsecond later than the one before, so that de-duplication keeps every copy (its key is the window's) and
every copy is written.
"""

from __future__ import annotations

import gc
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import apache_beam as beam

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.outputs import LocalOutputSettings
from beam_api_pipeline.core.beam_options import ViewOnceOptions
from beam_api_pipeline.core.runners import SafeFnApiRunner
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.outputs.files import LocalOutput
from beam_api_pipeline.outputs.write import WriteOutputs
from beam_api_pipeline.plan.run_plan import WindowTask
from beam_api_pipeline.records.row_schemas import RowSchemas
from beam_api_pipeline.records.transform import TransformRecords
from beam_api_pipeline.run.factory import PipelineFactory
from beam_api_pipeline.schemas.baseline import timestamp_columns

MIN_RECORDS = 10_000
MAX_COPIES = 50
RUN_ID = "plan-record-cost"
_MICROSECOND = timedelta(microseconds=1)
#: The in-process runner (the project's, as a local run's: Beam's DirectRunner would look for Prism first), one
#: worker thread: what a worker's Python process does, on one core.
_RUNNER_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]

Batch = tuple[WindowTask, list[Any]]


def copies_for(records: int) -> int:
    """How many times a sample of `records` records is run: to `MIN_RECORDS` at least, `MAX_COPIES` at most."""
    return min(MAX_COPIES, math.ceil(MIN_RECORDS / records)) if records else 0


def copied(task: WindowTask, copy: int) -> WindowTask:
    """`task` with its window ending `copy` microseconds later: a window of its own, holding the same records."""
    window = task.window
    return replace(task, window=Window(window.start, window.end + copy * _MICROSECOND, window.overlap))


def record_cpu(
    config: PipelineConfig, batches: list[Batch], cpu_clock: Callable[[], float] = time.process_time
) -> float:
    """The CPU seconds a record of `batches` (each window task with the records its first page held) costs the
    run's record stages, Beam's included, less Beam's fixed cost of a pipeline; 0 without records."""
    records = sum(len(rows) for _, rows in batches)
    copies = copies_for(records)
    if not copies:
        return 0.0
    size = config.api_config.batch_size  # a page's records go downstream in batches of this size, as a run's do
    elements = [
        (copied(task, copy).to_element(), rows[start : start + size])
        for copy in range(copies)
        for task, rows in batches
        for start in range(0, len(rows), size)
    ]
    with tempfile.TemporaryDirectory(prefix="plan-record-cost-") as folder:
        empty = _run_cpu(config, [], folder, cpu_clock)
        full = _run_cpu(config, elements, folder, cpu_clock)
    return max(0.0, full - empty) / (records * copies)


def _run_cpu(config: PipelineConfig, elements: list, folder: str, cpu_clock: Callable[[], float]) -> float:
    """The CPU seconds of running the record stages over `elements` (`(task element, records)` batches)."""
    gc.collect()  # the garbage of what ran before is not this run's
    started = cpu_clock()
    with beam.Pipeline(runner=SafeFnApiRunner(), options=ViewOnceOptions(_RUNNER_ARGS)) as pipeline:
        _record_stages(pipeline | "Records" >> beam.Create(elements, reshuffle=False), config, folder)
    return cpu_clock() - started


def _record_stages(records: beam.PCollection, config: PipelineConfig, folder: str) -> None:
    """What a run does with its fetched records (`PipelineFactory`), writing JSON lines under `folder`."""
    api = config.api_config
    shaped = records | "TransformRecords" >> TransformRecords(config, RUN_ID, list(api.endpoints))
    rows = {
        # an endpoint with quality checks hands `(task, rows)` batches to CheckQuality, which is not measured
        endpoint: batches | f"Rows[{endpoint}]" >> beam.MapTuple(lambda _task, rows: rows)
        if api.endpoints[endpoint].quality
        else batches
        for endpoint, batches in shaped["rows"].items()
    }
    output = LocalOutput(LocalOutputSettings(path=folder), PipelineFactory.output_context(config, RUN_ID))
    _ = rows | "WriteOutputs" >> WriteOutputs([output])
    _ = rows | "RowSchemas" >> RowSchemas(timestamp_columns(config))
