"""WriteDeadLetters: failed windows and records that could not be placed, kept as JSON Lines with reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.outputs.dead_letter_table import WriteDeadLetterTable
from beam_api_pipeline.outputs.files import run_file_prefix
from beam_api_pipeline.outputs.jsonl import to_json_line
from beam_api_pipeline.plan.run_plan import TaskElement, WindowResult, WindowTask
from beam_api_pipeline.records.quality_rules import QUALITY_ERROR_TYPE
from beam_api_pipeline.schemas.contract import CONTRACT_ERROR_TYPE


def default_dead_letter_path(pipeline_id: str) -> str:
    """Where dead letters go when the config has no `dead_letter` section."""
    return f"./.state/dead_letter/{pipeline_id}"


def _task_fields(pipeline_id: str, run_id: str, task: WindowTask) -> dict[str, Any]:
    return {
        "pipeline_id": pipeline_id,
        "run_id": run_id,
        "endpoint": task.endpoint,
        "window_start": format_utc(task.window.start),
        "window_end": format_utc(task.window.end),
        "failed_at": format_utc(datetime.now(UTC)),
    }


def window_dead_letter(pipeline_id: str, run_id: str, result: WindowResult) -> dict[str, Any]:
    """The dead-letter row of a window that failed or was truncated; a child task's names its parent record
    (`parent`: its key and the fields the child used), which is what `replay` needs to fetch it again."""
    row = {
        "kind": "window",
        **_task_fields(pipeline_id, run_id, result.task),
        "status": result.status.value,
        "error_type": result.error_type,
        "error": result.error,
        "pages_fetched": result.pages,
        "records_fetched": result.records,
        "retries": result.retries,
    }
    parent = result.task.parent
    if parent is not None:
        row["parent"] = {"key": parent.key, "fields": parent.fields}
    return row


def record_dead_letter(
    pipeline_id: str, run_id: str, task_element: TaskElement, record: Any, reason: str
) -> dict[str, Any]:
    """The dead-letter row of a record that could not be placed in a window."""
    return {
        "kind": "record",
        **_task_fields(pipeline_id, run_id, WindowTask.from_element(task_element)),
        "error_type": "InvalidRecord",
        "error": reason,
        "record": record,
    }


def contract_dead_letter(
    pipeline_id: str, run_id: str, task_element: TaskElement, record: Any, reason: str
) -> dict[str, Any]:
    """The dead-letter row of a record its endpoint's `schema_contract` kept out: the record as fetched, so that
    `replay` processes it again (under the contract and the schema of that time)."""
    return {**record_dead_letter(pipeline_id, run_id, task_element, record, reason), "error_type": CONTRACT_ERROR_TYPE}


def quality_dead_letter(
    pipeline_id: str, run_id: str, task_element: TaskElement, row: Any, reason: str
) -> dict[str, Any]:
    """The dead-letter row of a row a `drop_row` quality check dropped: a `row` (already transformed, so
    `replay` leaves it), with its window and the reasons of every check it failed."""
    return {
        "kind": "row",
        **_task_fields(pipeline_id, run_id, WindowTask.from_element(task_element)),
        "destination": "quality",
        "error_type": QUALITY_ERROR_TYPE,
        "error": reason,
        "record": row,
    }


class WriteDeadLetters(beam.PTransform):
    """(window results, invalid records, rows sinks rejected) in; what was written out (files, or the table once),
    nothing when all went well. The rows go to the `path` folder as JSON Lines, or to a BigQuery `table`."""

    def __init__(self, pipeline_id: str, run_id: str, path: str | None = None, table: str | None = None):
        super().__init__()
        self._pipeline_id = pipeline_id
        self._run_id = run_id
        self._path = path
        self._table = table

    def expand(self, inputs: tuple[pvalue.PCollection, pvalue.PCollection, pvalue.PCollection]) -> pvalue.PCollection:
        results, invalid, rejected = inputs
        pipeline_id, run_id = self._pipeline_id, self._run_id
        windows = (
            results
            | "ReadResults" >> beam.Map(WindowResult.from_element)
            | "FailedWindows" >> beam.Filter(lambda r: r.status.fails_window)
            | "WindowRows" >> beam.Map(lambda r: window_dead_letter(pipeline_id, run_id, r))
        )
        records = invalid | "RecordRows" >> beam.MapTuple(
            lambda task, record, reason: record_dead_letter(pipeline_id, run_id, task, record, reason)
        )
        rows = (windows, records, rejected) | "AllDeadLetters" >> beam.Flatten()
        if self._table:
            return rows | "ToTable" >> WriteDeadLetterTable(self._table)
        return (
            rows
            | "ToJsonLines" >> beam.Map(to_json_line)
            | "WriteToText"
            >> beam.io.WriteToText(
                run_file_prefix(self._path, "dead_letter", run_id),
                file_name_suffix=".jsonl",
                skip_if_empty=True,
            )
        )
