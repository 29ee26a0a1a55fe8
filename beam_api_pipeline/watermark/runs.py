"""PipelineRun: the record each run leaves in the control store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"


@dataclass(frozen=True)
class PipelineRun:
    """What one run of a pipeline did."""

    run_id: str
    pipeline_id: str
    status: str
    start_time: datetime
    end_time: datetime | None = None
    records_processed: int = 0
    errors: list[str] = field(default_factory=list)
    windows_done: int = 0
    windows_failed: int = 0
    job_id: str | None = None
    endpoint_stats: dict[str, dict[str, float]] = field(default_factory=dict)
    dead_letter_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (times as ISO 8601)."""
        data = asdict(self)
        for key in ("start_time", "end_time"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data
