"""Rows a sink rejected: their dead-letter form, and the transform that writes them beside the other dead
letters (JSON Lines, `rejected-<run_id>-*.jsonl` in the dead-letter folder)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.outputs.files import run_file_prefix
from beam_api_pipeline.outputs.jsonl import to_json_line
from beam_api_pipeline.windowing import format_utc


def rejected_row(
    pipeline_id: str, run_id: str, endpoint: str, destination: str, error_type: str, error: str, row: Any
) -> dict[str, Any]:
    """The dead-letter row of a record that `destination` would not take, with the reason."""
    return {
        "kind": "row",
        "pipeline_id": pipeline_id,
        "run_id": run_id,
        "endpoint": endpoint,
        "destination": destination,
        "failed_at": format_utc(datetime.now(UTC)),
        "error_type": error_type,
        "error": error,
        "record": row,
    }


class WriteRejectedRows(beam.PTransform):
    """Rejected-row dicts in; the dead-letter files written out (none when no row was rejected)."""

    def __init__(self, path: str, run_id: str):
        super().__init__()
        self._path = path
        self._run_id = run_id

    def expand(self, rows: pvalue.PCollection) -> pvalue.PCollection:
        return (
            rows
            | "ToJsonLines" >> beam.Map(to_json_line)
            | "WriteToText"
            >> beam.io.WriteToText(
                run_file_prefix(self._path, "rejected", self._run_id), file_name_suffix=".jsonl", skip_if_empty=True
            )
        )
