"""PipelineRun: the record each run leaves in the control store, and RunStatus, the statuses it can have."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

#: The errors a run record keeps.
MAX_ERRORS_KEPT = 20


class RunStatus(StrEnum):
    """A run's status; each value is the string the control stores hold."""

    RUNNING = "running"  # planned and started here, or a launched job Dataflow reports as not finished
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LAUNCHED = "launched"  # handed to Dataflow by `launch`; the job has not reported yet
    WATERMARK_SET = "watermark_set"  # no run: `watermark set` moved a watermark on purpose (see `note`)


@dataclass(frozen=True)
class PipelineRun:
    """What one run of a pipeline did. `service_name` and `service_version` come from the environment file's
    `service` (None without one); a store keeps the ones recorded first when a later save of the run gives none.
    `note` says what a record that is not a run did (`watermark set`: the watermark moved and the gap skipped)."""

    run_id: str
    pipeline_id: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None = None
    records_processed: int = 0
    errors: list[str] = field(default_factory=list)
    windows_done: int = 0
    windows_failed: int = 0
    job_id: str | None = None
    endpoint_stats: dict[str, dict[str, float]] = field(default_factory=dict)
    dead_letter_rows: int = 0
    service_name: str | None = None
    service_version: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (times as ISO 8601, the status as its string)."""
        data = asdict(self)
        data["status"] = str(self.status)
        for key in ("start_time", "end_time"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


#: The Dataflow job states a run ends in, and what each means for its record.
_FINAL_STATES = {
    "JOB_STATE_DONE": RunStatus.SUCCEEDED,
    "JOB_STATE_FAILED": RunStatus.FAILED,
    "JOB_STATE_CANCELLED": RunStatus.FAILED,
    "JOB_STATE_DRAINED": RunStatus.SUCCEEDED,
    "JOB_STATE_UPDATED": RunStatus.SUCCEEDED,
}


def run_status(job_state: str) -> RunStatus:
    """Our run status for a Dataflow job state: succeeded, failed or running."""
    return _FINAL_STATES.get(job_state, RunStatus.RUNNING)
