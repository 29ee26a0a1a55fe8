"""Rows a sink rejected, in their dead-letter form (WriteDeadLetters writes them with the other dead letters)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from beam_api_pipeline.core.windowing import format_utc

#: The `error_type` of a row whose values its destination's schema does not take.
SCHEMA_MISMATCH = "SchemaMismatch"


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
