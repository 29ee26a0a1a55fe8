"""The embedded SQLite control store, the default for local (DirectRunner) runs.

A database written by an earlier version lacks the newer `pipeline_runs` columns (`service_name`,
`service_version`, `note`) and the `schema_versions` table; opening it adds them, empty for the runs already recorded.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from beam_api_pipeline.client.validators import Validators
from beam_api_pipeline.control.lease import Lease
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.schema_versions import SchemaVersion
from beam_api_pipeline.control.store import VALIDATORS_KEPT

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watermarks (
    pipeline_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    watermark TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, endpoint)
);
CREATE TABLE IF NOT EXISTS pipeline_runs (
    run_id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT,
    records_processed INTEGER NOT NULL,
    errors TEXT NOT NULL,
    windows_done INTEGER NOT NULL,
    windows_failed INTEGER NOT NULL,
    job_id TEXT,
    endpoint_stats TEXT NOT NULL DEFAULT '{}',
    dead_letter_rows INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS schema_versions (
    pipeline_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    version INTEGER NOT NULL,
    fields TEXT NOT NULL,
    changes TEXT NOT NULL,
    run_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, endpoint, version)
);
CREATE TABLE IF NOT EXISTS validators (
    pipeline_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    request TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    run_id TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, endpoint, request)
);
CREATE TABLE IF NOT EXISTS leases (
    pipeline_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""
#: Columns added since the table was first released, with their SQLite types.
_ADDED_RUN_COLUMNS = {"service_name": "TEXT", "service_version": "TEXT", "note": "TEXT"}
_RUN_COLUMNS = [
    "run_id",
    "pipeline_id",
    "status",
    "start_time",
    "end_time",
    "records_processed",
    "errors",
    "windows_done",
    "windows_failed",
    "job_id",
    "endpoint_stats",
    "dead_letter_rows",
    *_ADDED_RUN_COLUMNS,
]
#: Kept from the stored row when a save gives none (see PipelineRun).
_KEPT_WHEN_NONE = ("service_name", "service_version", "note")
_SCHEMA_COLUMNS = "pipeline_id, endpoint, version, fields, changes, run_id, recorded_at"
_SAVE_RUN_SQL = (
    f"INSERT INTO pipeline_runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' for _ in _RUN_COLUMNS)}) "
    "ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(
        f"{name} = COALESCE(excluded.{name}, {name})" if name in _KEPT_WHEN_NONE else f"{name} = excluded.{name}"
        for name in _RUN_COLUMNS[1:]
    )
)


def _to_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that comparing the text compares the times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Add the columns an older database lacks; another process adding them at the same time is no error."""
    present = {row[1] for row in db.execute("PRAGMA table_info(pipeline_runs)")}
    for column, kind in _ADDED_RUN_COLUMNS.items():
        if column in present:
            continue
        try:
            with db:
                db.execute(f"ALTER TABLE pipeline_runs ADD COLUMN {column} {kind}")
        except sqlite3.OperationalError as error:
            if "duplicate column" not in str(error):
                raise


class LocalWatermarkStore:
    """Watermarks and run records in one SQLite file."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        _add_missing_columns(self._db)

    def get_watermark(self, pipeline_id: str, endpoint: str) -> datetime | None:
        row = self._db.execute(
            "SELECT watermark FROM watermarks WHERE pipeline_id = ? AND endpoint = ?", (pipeline_id, endpoint)
        ).fetchone()
        return _from_text(row[0]) if row else None

    def advance_watermark(self, pipeline_id: str, endpoint: str, watermark: datetime, run_id: str) -> None:
        with self._db:
            self._advance(pipeline_id, endpoint, watermark, run_id)

    def _advance(self, pipeline_id: str, endpoint: str, watermark: datetime, run_id: str) -> None:
        self._db.execute(
            "INSERT INTO watermarks VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline_id, endpoint) "
            "DO UPDATE SET watermark = excluded.watermark, updated_at = excluded.updated_at, "
            "run_id = excluded.run_id WHERE excluded.watermark > watermarks.watermark",
            (pipeline_id, endpoint, _to_text(watermark), _to_text(datetime.now(UTC)), run_id),
        )

    def get_validators(self, pipeline_id: str) -> dict[tuple[str, str], Validators]:
        rows = self._db.execute(
            "SELECT endpoint, request, etag, last_modified FROM validators WHERE pipeline_id = ?", (pipeline_id,)
        ).fetchall()
        return {(endpoint, request): Validators(etag, modified) for endpoint, request, etag, modified in rows}

    def save_validators(
        self,
        pipeline_id: str,
        run_id: str,
        validators: dict[tuple[str, str], Validators],
        now: datetime | None = None,
    ) -> None:
        now = now or datetime.now(UTC)
        saved_at = _to_text(now)
        rows = [
            (pipeline_id, endpoint, request, found.etag, found.last_modified, run_id, saved_at)
            for (endpoint, request), found in sorted(validators.items())
        ]
        with self._db:
            self._db.executemany(
                "INSERT INTO validators VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pipeline_id, endpoint, request) "
                "DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, "
                "run_id = excluded.run_id, saved_at = excluded.saved_at",
                rows,
            )
            self._db.execute(
                "DELETE FROM validators WHERE pipeline_id = ? AND saved_at < ?",
                (pipeline_id, _to_text(now - VALIDATORS_KEPT)),
            )

    def save_run(self, run: PipelineRun) -> None:
        with self._db:
            self._db.execute(
                _SAVE_RUN_SQL,
                (
                    run.run_id,
                    run.pipeline_id,
                    str(run.status),
                    _to_text(run.start_time),
                    _to_text(run.end_time) if run.end_time else None,
                    run.records_processed,
                    json.dumps(run.errors),
                    run.windows_done,
                    run.windows_failed,
                    run.job_id,
                    json.dumps(run.endpoint_stats),
                    run.dead_letter_rows,
                    run.service_name,
                    run.service_version,
                    run.note,
                ),
            )

    def get_run(self, run_id: str) -> PipelineRun | None:
        row = self._db.execute(
            f"SELECT {', '.join(_RUN_COLUMNS)} FROM pipeline_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return self._run_from_row(row) if row else None

    def list_runs(self, pipeline_id: str) -> list[PipelineRun]:
        rows = self._db.execute(
            f"SELECT {', '.join(_RUN_COLUMNS)} FROM pipeline_runs WHERE pipeline_id = ? ORDER BY start_time DESC",
            (pipeline_id,),
        ).fetchall()
        return [self._run_from_row(row) for row in rows]

    def latest_schema(self, pipeline_id: str, endpoint: str) -> SchemaVersion | None:
        row = self._db.execute(
            f"SELECT {_SCHEMA_COLUMNS} FROM schema_versions WHERE pipeline_id = ? AND endpoint = ? "
            "ORDER BY version DESC LIMIT 1",
            (pipeline_id, endpoint),
        ).fetchone()
        return _schema_from_row(row) if row else None

    def record_schema(
        self, pipeline_id: str, endpoint: str, fields: list[dict], changes: list[str], run_id: str, expected: int
    ) -> SchemaVersion | None:
        """The latest version is read and the next one inserted in one write transaction, so that two processes
        recording at once wait for each other: the second finds the latest version moved on."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            (latest,) = self._db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_versions WHERE pipeline_id = ? AND endpoint = ?",
                (pipeline_id, endpoint),
            ).fetchone()
            if latest != expected:
                return None
            row = (
                pipeline_id,
                endpoint,
                latest + 1,
                json.dumps(fields),
                json.dumps(changes),
                run_id,
                _to_text(datetime.now(UTC)),
            )
            self._db.execute(f"INSERT INTO schema_versions ({_SCHEMA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        return _schema_from_row(row)

    def schema_versions(self, pipeline_id: str, endpoint: str | None = None) -> list[SchemaVersion]:
        endpoint_filter = "" if endpoint is None else " AND endpoint = ?"
        parameters = (pipeline_id,) if endpoint is None else (pipeline_id, endpoint)
        rows = self._db.execute(
            f"SELECT {_SCHEMA_COLUMNS} FROM schema_versions WHERE pipeline_id = ?{endpoint_filter} "
            "ORDER BY endpoint, version",
            parameters,
        ).fetchall()
        return [_schema_from_row(row) for row in rows]

    def take_lease(self, wanted: Lease, now: datetime) -> Lease:
        """Read and write in one write transaction: two processes taking the lease at once wait for each other."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            return self._take_lease(wanted, now)

    def advance_watermarks_holding(self, wanted: Lease, now: datetime, watermarks: dict[str, datetime]) -> Lease:
        """The lease and the watermarks in one write transaction: no other run takes the lease in between."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            holder = self._take_lease(wanted, now)
            if holder.run_id == wanted.run_id:
                for endpoint, watermark in watermarks.items():
                    self._advance(wanted.pipeline_id, endpoint, watermark, wanted.run_id)
        return holder

    def _take_lease(self, wanted: Lease, now: datetime) -> Lease:
        """`take_lease` within the caller's write transaction."""
        held = self._lease_row(wanted.pipeline_id)
        if held is not None and held.run_id != wanted.run_id and held.expires_at > now:
            return held
        taken_at = held.taken_at if held is not None and held.run_id == wanted.run_id else wanted.taken_at
        lease = Lease(wanted.pipeline_id, wanted.run_id, wanted.host, taken_at, wanted.expires_at)
        self._db.execute(
            "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)",
            (lease.pipeline_id, lease.run_id, lease.host, _to_text(lease.taken_at), _to_text(lease.expires_at)),
        )
        return lease

    def get_lease(self, pipeline_id: str, now: datetime) -> Lease | None:
        lease = self._lease_row(pipeline_id)
        return lease if lease is not None and lease.expires_at > now else None

    def release_lease(self, pipeline_id: str, run_id: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM leases WHERE pipeline_id = ? AND run_id = ?", (pipeline_id, run_id))

    def _lease_row(self, pipeline_id: str) -> Lease | None:
        row = self._db.execute(
            "SELECT run_id, host, taken_at, expires_at FROM leases WHERE pipeline_id = ?", (pipeline_id,)
        ).fetchone()
        if row is None:
            return None
        run_id, host, taken_at, expires_at = row
        return Lease(pipeline_id, run_id, host, _from_text(taken_at), _from_text(expires_at))

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _run_from_row(row: tuple) -> PipelineRun:
        run_id, pipeline_id, status, start, end, records, errors, done, failed, job_id, stats, dead, *service = row
        name, version, note = service
        return PipelineRun(
            run_id=run_id,
            pipeline_id=pipeline_id,
            status=RunStatus(status),
            start_time=_from_text(start),
            end_time=_from_text(end),
            records_processed=records,
            errors=json.loads(errors),
            windows_done=done,
            windows_failed=failed,
            job_id=job_id,
            endpoint_stats=json.loads(stats),
            dead_letter_rows=dead,
            service_name=name,
            service_version=version,
            note=note,
        )


def _schema_from_row(row: tuple) -> SchemaVersion:
    pipeline_id, endpoint, version, fields, changes, run_id, recorded_at = row
    return SchemaVersion(
        pipeline_id=pipeline_id,
        endpoint=endpoint,
        version=version,
        fields=json.loads(fields),
        changes=json.loads(changes),
        run_id=run_id,
        recorded_at=_from_text(recorded_at),
    )
