"""SchemaVersion: the BigQuery schema one run wrote for one endpoint, as the control store keeps it, and the text
`schema show` prints for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beam_api_pipeline.core.windowing import format_utc


@dataclass(frozen=True)
class SchemaVersion:
    """One recorded schema of (pipeline, endpoint); `version` counts 1, 2, ... per endpoint. `fields` are
    BigQuery JSON schema fields (`name`, `type`, `mode`, and `fields` for a RECORD); `changes` say how they differ
    from the previous version (the first version: `["new schema: ..."]`)."""

    pipeline_id: str
    endpoint: str
    version: int
    fields: list[dict[str, Any]]
    changes: list[str]
    run_id: str
    recorded_at: datetime


def format_schema_version(version: SchemaVersion) -> list[str]:
    """A heading line (endpoint, version, time to the second, run) and each change indented by two spaces."""
    recorded = format_utc(version.recorded_at.replace(microsecond=0))
    heading = f"{version.endpoint} v{version.version}  {recorded}  run {version.run_id}"
    return [heading, *(f"  {change}" for change in version.changes)]
