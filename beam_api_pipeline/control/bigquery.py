"""The BigQuery control table: watermarks in `watermark_store.table`, run records in a sibling table
`<table>_runs`, the schema each run wrote per endpoint in `<table>_schema_versions`, leases in `<table>_leases`,
the validators of conditional requests in `<table>_validators` (`client.conditional`).

`setup` creates the dataset and the tables once (`create_control_tables`, with rights to create datasets); a run
only reads and writes them: opening the store `get`s each table once per process (`_PRESENT`), and a missing one
is a ConfigError naming it and the `setup` command. So the job's account needs no project-wide
`bigquery.datasets.create`, and a commit or a streaming tick costs no metadata call.

A watermark is written with a MERGE that only ever moves it forward, so two overlapping runs of one pipeline
cannot lose ground.

    <table>:      pipeline_id STRING REQUIRED, endpoint STRING REQUIRED, watermark TIMESTAMP REQUIRED,
                  updated_at TIMESTAMP REQUIRED, run_id STRING REQUIRED
    <table>_runs: run_id STRING REQUIRED, pipeline_id STRING REQUIRED, status STRING REQUIRED,
                  start_time TIMESTAMP REQUIRED, end_time TIMESTAMP, records_processed INTEGER REQUIRED,
                  errors STRING REPEATED, windows_done INTEGER REQUIRED, windows_failed INTEGER REQUIRED,
                  job_id STRING, endpoint_stats STRING (JSON text), dead_letter_rows INTEGER,
                  service_name STRING, service_version STRING, note STRING
    <table>_schema_versions: pipeline_id STRING REQUIRED, endpoint STRING REQUIRED, version INTEGER REQUIRED,
                  fields STRING REQUIRED (JSON text), changes STRING REQUIRED (JSON text), run_id STRING REQUIRED,
                  recorded_at TIMESTAMP REQUIRED
    <table>_leases: pipeline_id STRING REQUIRED, run_id STRING REQUIRED, host STRING REQUIRED,
                  taken_at TIMESTAMP REQUIRED, expires_at TIMESTAMP REQUIRED
    <table>_validators: pipeline_id STRING REQUIRED, endpoint STRING REQUIRED, request STRING REQUIRED,
                  etag STRING, last_modified STRING, run_id STRING REQUIRED, saved_at TIMESTAMP REQUIRED

A pipeline set up by an earlier version has no validators table: `setup` adds it (the run says so).
A runs table created by an earlier version lacks the last columns (service_name, service_version, note); opening
the store (or `setup`) adds them (NULLABLE, empty for the runs already recorded).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from beam_api_pipeline.client.validators import Validators
from beam_api_pipeline.control.lease import Lease
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.schema_versions import SchemaVersion
from beam_api_pipeline.control.store import VALIDATORS_KEPT
from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.gcp.clients import bigquery_client

logger = logging.getLogger(__name__)

RUNS_SUFFIX = "_runs"
SCHEMAS_SUFFIX = "_schema_versions"
LEASES_SUFFIX = "_leases"
VALIDATORS_SUFFIX = "_validators"

WATERMARK_FIELDS = [
    ("pipeline_id", "STRING", "REQUIRED"),
    ("endpoint", "STRING", "REQUIRED"),
    ("watermark", "TIMESTAMP", "REQUIRED"),
    ("updated_at", "TIMESTAMP", "REQUIRED"),
    ("run_id", "STRING", "REQUIRED"),
]
RUN_FIELDS = [
    ("run_id", "STRING", "REQUIRED"),
    ("pipeline_id", "STRING", "REQUIRED"),
    ("status", "STRING", "REQUIRED"),
    ("start_time", "TIMESTAMP", "REQUIRED"),
    ("end_time", "TIMESTAMP", "NULLABLE"),
    ("records_processed", "INTEGER", "REQUIRED"),
    ("errors", "STRING", "REPEATED"),
    ("windows_done", "INTEGER", "REQUIRED"),
    ("windows_failed", "INTEGER", "REQUIRED"),
    ("job_id", "STRING", "NULLABLE"),
    ("endpoint_stats", "STRING", "NULLABLE"),
    ("dead_letter_rows", "INTEGER", "NULLABLE"),
    ("service_name", "STRING", "NULLABLE"),
    ("service_version", "STRING", "NULLABLE"),
    ("note", "STRING", "NULLABLE"),
]
_RUN_COLUMNS = ", ".join(name for name, _type, _mode in RUN_FIELDS)
SCHEMA_FIELDS = [
    ("pipeline_id", "STRING", "REQUIRED"),
    ("endpoint", "STRING", "REQUIRED"),
    ("version", "INTEGER", "REQUIRED"),
    ("fields", "STRING", "REQUIRED"),
    ("changes", "STRING", "REQUIRED"),
    ("run_id", "STRING", "REQUIRED"),
    ("recorded_at", "TIMESTAMP", "REQUIRED"),
]
_SCHEMA_COLUMNS = ", ".join(name for name, _type, _mode in SCHEMA_FIELDS)
LEASE_FIELDS = [
    ("pipeline_id", "STRING", "REQUIRED"),
    ("run_id", "STRING", "REQUIRED"),
    ("host", "STRING", "REQUIRED"),
    ("taken_at", "TIMESTAMP", "REQUIRED"),
    ("expires_at", "TIMESTAMP", "REQUIRED"),
]
VALIDATOR_FIELDS = [
    ("pipeline_id", "STRING", "REQUIRED"),
    ("endpoint", "STRING", "REQUIRED"),
    ("request", "STRING", "REQUIRED"),
    ("etag", "STRING", "NULLABLE"),
    ("last_modified", "STRING", "NULLABLE"),
    ("run_id", "STRING", "REQUIRED"),
    ("saved_at", "TIMESTAMP", "REQUIRED"),
]
#: Validators saved by one statement at most (four query parameters each).
VALIDATORS_PER_STATEMENT = 200


def save_validators_sql(table: str, count: int) -> str:
    """The MERGE that saves `count` validators, row `i` given as @endpoint_i, @request_i, @etag_i, @modified_i."""
    rows = " UNION ALL ".join(
        f"SELECT @endpoint_{i} AS endpoint, @request_{i} AS request, @etag_{i} AS etag, @modified_{i} AS last_modified"
        for i in range(count)
    )
    return f"""
MERGE {table} T
USING ({rows}) S
ON T.pipeline_id = @pipeline_id AND T.endpoint = S.endpoint AND T.request = S.request
WHEN MATCHED THEN
  UPDATE SET etag = S.etag, last_modified = S.last_modified, run_id = @run_id, saved_at = @saved_at
WHEN NOT MATCHED THEN
  INSERT (pipeline_id, endpoint, request, etag, last_modified, run_id, saved_at)
  VALUES (@pipeline_id, S.endpoint, S.request, S.etag, S.last_modified, @run_id, @saved_at)
"""


#: Takes the lease in one statement: a held lease is replaced only when it expired or is the run's own (a renewal
#: keeps its `taken_at`). BigQuery runs two mutating DML statements on one table one after the other (the second
#: conflicts and is retried over the first one's result), so only one run's row is written. Should a store let both
#: insert, the holder is the row `CURRENT_LEASE_SQL` reads first, and the other run deletes its own row.
TAKE_LEASE_SQL = """
MERGE {table} T
USING (SELECT @pipeline_id AS pipeline_id, @run_id AS run_id, @host AS host, @taken_at AS taken_at,
              @expires_at AS expires_at) S
ON T.pipeline_id = S.pipeline_id
WHEN MATCHED AND T.run_id = S.run_id THEN
  UPDATE SET host = S.host, expires_at = S.expires_at
WHEN MATCHED AND T.expires_at <= @now THEN
  UPDATE SET run_id = S.run_id, host = S.host, taken_at = S.taken_at, expires_at = S.expires_at
WHEN NOT MATCHED THEN
  INSERT (pipeline_id, run_id, host, taken_at, expires_at)
  VALUES (S.pipeline_id, S.run_id, S.host, S.taken_at, S.expires_at)
"""
#: The lease's holder: the earliest taken of the unexpired rows (see TAKE_LEASE_SQL).
CURRENT_LEASE_SQL = """
SELECT run_id, host, taken_at, expires_at FROM {table}
WHERE pipeline_id = @pipeline_id AND expires_at > @now
ORDER BY taken_at, run_id LIMIT 1
"""

ADVANCE_SQL = """
MERGE {table} T
USING (SELECT @pipeline_id AS pipeline_id, @endpoint AS endpoint, @watermark AS watermark,
              @updated_at AS updated_at, @run_id AS run_id) S
ON T.pipeline_id = S.pipeline_id AND T.endpoint = S.endpoint
WHEN MATCHED AND S.watermark > T.watermark THEN
  UPDATE SET watermark = S.watermark, updated_at = S.updated_at, run_id = S.run_id
WHEN NOT MATCHED THEN
  INSERT (pipeline_id, endpoint, watermark, updated_at, run_id)
  VALUES (S.pipeline_id, S.endpoint, S.watermark, S.updated_at, S.run_id)
"""

#: Kept from the stored row when a save gives none (see PipelineRun).
_KEPT_WHEN_NONE = ("service_name", "service_version", "note")
_RUN_NAMES = [name for name, _type, _mode in RUN_FIELDS]
SAVE_RUN_SQL = (
    "MERGE {table} T USING (SELECT "
    + ", ".join(f"@{name} AS {name}" for name in _RUN_NAMES)
    + ") S ON T.run_id = S.run_id WHEN MATCHED THEN UPDATE SET "
    + ", ".join(
        f"{name} = COALESCE(S.{name}, T.{name})" if name in _KEPT_WHEN_NONE else f"{name} = S.{name}"
        for name in _RUN_NAMES[1:]
    )
    + f" WHEN NOT MATCHED THEN INSERT ({_RUN_COLUMNS}) VALUES ("
    + ", ".join(f"S.{name}" for name in _RUN_NAMES)
    + ")"
)


#: Inserts version `@expected + 1` only while the latest version is `@expected`, checked in the statement itself.
#: Two statements running at the same moment can still both pass the check: BigQuery runs INSERTs concurrently.
RECORD_SCHEMA_SQL = f"""
INSERT INTO {{table}} ({_SCHEMA_COLUMNS})
SELECT @pipeline_id, @endpoint, latest + 1, @fields, @changes, @run_id, @recorded_at
FROM (SELECT COALESCE(MAX(version), 0) AS latest FROM {{table}}
      WHERE pipeline_id = @pipeline_id AND endpoint = @endpoint)
WHERE latest = @expected
"""


#: The watermark tables whose control tables this process found present (with every column): a store opened
#: again for the same table (each commit, each streaming tick) asks BigQuery nothing.
_PRESENT: set[str] = set()
_PRESENT_LOCK = threading.Lock()

#: The command that creates the control tables.
SETUP_COMMAND = "python -m beam_api_pipeline setup --config FILE"


def missing_table_message(table: TableName) -> str:
    """The one line a run stops with when the control table `table` does not exist."""
    return (
        f"watermark_store.table: the control table {table} does not exist; create the control tables once with "
        f"`{SETUP_COMMAND}` (or make setup CONFIG=FILE), as an account that may create BigQuery datasets; "
        "docs/deploy.md, The service account and its roles"
    )


def create_control_tables(table: str) -> list[str]:
    """Create the dataset of the watermark table `table` and the control tables, each only if missing, and
    add the columns an earlier version's tables lack; the names of the tables created (`setup`)."""
    store = BigQueryWatermarkStore(table, check=False)
    try:
        return store.create_missing()
    finally:
        store.close()


class BigQueryWatermarkStore:
    """Watermarks and run records in BigQuery, through google-cloud-bigquery (emulator-aware); the tables must
    exist (`create_control_tables`): `check=False` skips the check, for `setup` alone."""

    def __init__(self, table: str, check: bool = True):
        from google.cloud import bigquery

        self._bq = bigquery
        self.watermarks = TableName.parse(table)
        self.runs = self._sibling(RUNS_SUFFIX)
        self.schemas = self._sibling(SCHEMAS_SUFFIX)
        self.leases = self._sibling(LEASES_SUFFIX)
        self.validators = self._sibling(VALIDATORS_SUFFIX)
        self._client = bigquery_client(self.watermarks.project)
        if check:
            self._check_tables()

    def _sibling(self, suffix: str) -> TableName:
        """The table named like the watermark table with `suffix`, in its dataset."""
        return TableName(self.watermarks.project, self.watermarks.dataset, self.watermarks.table + suffix)

    def tables(self) -> list[tuple[TableName, list[tuple[str, str, str]]]]:
        """The control tables and their fields."""
        return [
            (self.watermarks, WATERMARK_FIELDS),
            (self.runs, RUN_FIELDS),
            (self.schemas, SCHEMA_FIELDS),
            (self.leases, LEASE_FIELDS),
            (self.validators, VALIDATOR_FIELDS),
        ]

    def create_missing(self) -> list[str]:
        """Create the dataset and each missing control table, then check them (`_check_tables`); the names of
        the tables created."""
        from google.api_core.exceptions import NotFound

        bq, dataset = self._bq, f"{self.watermarks.project}.{self.watermarks.dataset}"
        try:
            self._client.get_dataset(dataset)  # an existing dataset needs no right to create one
        except NotFound:
            self._client.create_dataset(dataset)
        created = []
        for table_name, fields in self.tables():
            if self._existing(table_name) is None:
                schema = [bq.SchemaField(field, kind, mode=mode) for field, kind, mode in fields]
                self._client.create_table(bq.Table(str(table_name), schema=schema), exists_ok=True)
                created.append(str(table_name))
        self._check_tables()
        return created

    def _existing(self, name: TableName):
        """The table `name`, or None when it does not exist."""
        from google.api_core.exceptions import NotFound

        try:
            return self._client.get_table(str(name))
        except NotFound:
            return None

    def _check_tables(self) -> None:
        """Once per process and watermark table: each control table exists (else ConfigError, the one line of
        `missing_table_message`), and has the fields a table made by an earlier version lacks, added NULLABLE
        with DDL (which changes the table's data and its schema alike)."""
        with _PRESENT_LOCK:
            if str(self.watermarks) in _PRESENT:
                return
        for name, fields in self.tables():
            table = self._existing(name)
            if table is None and name == self.validators:
                continue  # an earlier version's setup: conditional requests wait for `setup` (`get_validators`)
            if table is None:
                raise ConfigError(missing_table_message(name))
            present = {field.name for field in table.schema}
            for field, kind, _mode in fields:
                if field not in present:
                    self._query(f"ALTER TABLE {name.sql} ADD COLUMN IF NOT EXISTS {field} {kind}", [])
        with _PRESENT_LOCK:
            _PRESENT.add(str(self.watermarks))

    def _query(self, sql: str, parameters: list) -> list:
        job = self._client.query(sql, job_config=self._bq.QueryJobConfig(query_parameters=parameters))
        return list(job.result())

    def _param(self, name: str, kind: str, value: Any):
        return self._bq.ScalarQueryParameter(name, kind, value)

    def get_watermark(self, pipeline_id: str, endpoint: str) -> datetime | None:
        rows = self._query(
            f"SELECT MAX(watermark) AS watermark FROM {self.watermarks.sql} "
            "WHERE pipeline_id = @pipeline_id AND endpoint = @endpoint",
            [self._param("pipeline_id", "STRING", pipeline_id), self._param("endpoint", "STRING", endpoint)],
        )
        value = rows[0]["watermark"] if rows else None
        return value.astimezone(UTC) if value is not None else None

    def advance_watermark(self, pipeline_id: str, endpoint: str, watermark: datetime, run_id: str) -> None:
        self._query(
            ADVANCE_SQL.format(table=self.watermarks.sql),
            [
                self._param("pipeline_id", "STRING", pipeline_id),
                self._param("endpoint", "STRING", endpoint),
                self._param("watermark", "TIMESTAMP", watermark),
                self._param("updated_at", "TIMESTAMP", datetime.now(UTC)),
                self._param("run_id", "STRING", run_id),
            ],
        )

    def get_validators(self, pipeline_id: str) -> dict[tuple[str, str], Validators]:
        """Empty without the validators table (set up by an earlier version): every request is sent in full."""
        from google.api_core.exceptions import NotFound

        try:
            rows = self._query(
                f"SELECT endpoint, request, etag, last_modified FROM {self.validators.sql} "
                "WHERE pipeline_id = @pipeline_id",
                [self._param("pipeline_id", "STRING", pipeline_id)],
            )
        except NotFound:
            logger.warning("no conditional requests: %s", missing_table_message(self.validators))
            return {}
        return {(row["endpoint"], row["request"]): Validators(row["etag"], row["last_modified"]) for row in rows}

    def save_validators(
        self,
        pipeline_id: str,
        run_id: str,
        validators: dict[tuple[str, str], Validators],
        now: datetime | None = None,
    ) -> None:
        """Nothing is saved without the validators table (set up by an earlier version), and the run goes on."""
        from google.api_core.exceptions import NotFound

        now = now or datetime.now(UTC)
        try:
            self._save_validators(pipeline_id, run_id, sorted(validators.items()), now)
            self._query(
                f"DELETE FROM {self.validators.sql} WHERE pipeline_id = @pipeline_id AND saved_at < @oldest",
                [
                    self._param("pipeline_id", "STRING", pipeline_id),
                    self._param("oldest", "TIMESTAMP", now - VALIDATORS_KEPT),
                ],
            )
        except NotFound:
            logger.warning("validators not saved: %s", missing_table_message(self.validators))

    def _save_validators(
        self, pipeline_id: str, run_id: str, saved: list[tuple[tuple[str, str], Validators]], saved_at: datetime
    ):
        for start in range(0, len(saved), VALIDATORS_PER_STATEMENT):
            batch = saved[start : start + VALIDATORS_PER_STATEMENT]
            rows = [
                self._param(f"{name}_{i}", "STRING", value)
                for i, ((endpoint, request), found) in enumerate(batch)
                for name, value in (
                    ("endpoint", endpoint),
                    ("request", request),
                    ("etag", found.etag),
                    ("modified", found.last_modified),
                )
            ]
            common = [
                self._param("pipeline_id", "STRING", pipeline_id),
                self._param("run_id", "STRING", run_id),
                self._param("saved_at", "TIMESTAMP", saved_at),
            ]
            self._query(save_validators_sql(self.validators.sql, len(batch)), [*common, *rows])

    def save_run(self, run: PipelineRun) -> None:
        self._query(
            SAVE_RUN_SQL.format(table=self.runs.sql),
            [
                self._param("run_id", "STRING", run.run_id),
                self._param("pipeline_id", "STRING", run.pipeline_id),
                self._param("status", "STRING", str(run.status)),
                self._param("start_time", "TIMESTAMP", run.start_time),
                self._param("end_time", "TIMESTAMP", run.end_time),
                self._param("records_processed", "INT64", run.records_processed),
                self._bq.ArrayQueryParameter("errors", "STRING", list(run.errors)),
                self._param("windows_done", "INT64", run.windows_done),
                self._param("windows_failed", "INT64", run.windows_failed),
                self._param("job_id", "STRING", run.job_id),
                self._param("endpoint_stats", "STRING", json.dumps(run.endpoint_stats)),
                self._param("dead_letter_rows", "INT64", run.dead_letter_rows),
                self._param("service_name", "STRING", run.service_name),
                self._param("service_version", "STRING", run.service_version),
                self._param("note", "STRING", run.note),
            ],
        )

    def get_run(self, run_id: str) -> PipelineRun | None:
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM {self.runs.sql} WHERE run_id = @run_id",
            [self._param("run_id", "STRING", run_id)],
        )
        return _run_from_row(rows[0]) if rows else None

    def list_runs(self, pipeline_id: str) -> list[PipelineRun]:
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM {self.runs.sql} WHERE pipeline_id = @pipeline_id ORDER BY start_time DESC",
            [self._param("pipeline_id", "STRING", pipeline_id)],
        )
        return [_run_from_row(row) for row in rows]

    def latest_schema(self, pipeline_id: str, endpoint: str) -> SchemaVersion | None:
        rows = self._query(
            f"SELECT {_SCHEMA_COLUMNS} FROM {self.schemas.sql} "
            "WHERE pipeline_id = @pipeline_id AND endpoint = @endpoint ORDER BY version DESC LIMIT 1",
            [self._param("pipeline_id", "STRING", pipeline_id), self._param("endpoint", "STRING", endpoint)],
        )
        return _schema_from_row(rows[0]) if rows else None

    def record_schema(
        self, pipeline_id: str, endpoint: str, fields: list[dict], changes: list[str], run_id: str, expected: int
    ) -> SchemaVersion | None:
        """Insert the next version, then read back the row this call inserted (BigQuery DML returns no rows):
        none when the latest version was no longer `expected`."""
        recorded_at = datetime.now(UTC)
        key = [
            self._param("pipeline_id", "STRING", pipeline_id),
            self._param("endpoint", "STRING", endpoint),
            self._param("run_id", "STRING", run_id),
            self._param("recorded_at", "TIMESTAMP", recorded_at),
        ]
        self._query(
            RECORD_SCHEMA_SQL.format(table=self.schemas.sql),
            [
                *key,
                self._param("fields", "STRING", json.dumps(fields)),
                self._param("changes", "STRING", json.dumps(changes)),
                self._param("expected", "INT64", expected),
            ],
        )
        rows = self._query(
            f"SELECT {_SCHEMA_COLUMNS} FROM {self.schemas.sql} WHERE pipeline_id = @pipeline_id "
            "AND endpoint = @endpoint AND run_id = @run_id AND recorded_at = @recorded_at",
            key,
        )
        return _schema_from_row(rows[0]) if rows else None

    def schema_versions(self, pipeline_id: str, endpoint: str | None = None) -> list[SchemaVersion]:
        conditions = ["pipeline_id = @pipeline_id"]
        parameters = [self._param("pipeline_id", "STRING", pipeline_id)]
        if endpoint is not None:
            conditions.append("endpoint = @endpoint")
            parameters.append(self._param("endpoint", "STRING", endpoint))
        rows = self._query(
            f"SELECT {_SCHEMA_COLUMNS} FROM {self.schemas.sql} WHERE {' AND '.join(conditions)} "
            "ORDER BY endpoint, version",
            parameters,
        )
        return [_schema_from_row(row) for row in rows]

    def take_lease(self, wanted: Lease, now: datetime) -> Lease:
        """TAKE_LEASE_SQL, then the holder it left; a run that lost a race deletes the row it inserted."""
        self._query(
            TAKE_LEASE_SQL.format(table=self.leases.sql),
            [
                self._param("pipeline_id", "STRING", wanted.pipeline_id),
                self._param("run_id", "STRING", wanted.run_id),
                self._param("host", "STRING", wanted.host),
                self._param("taken_at", "TIMESTAMP", wanted.taken_at),
                self._param("expires_at", "TIMESTAMP", wanted.expires_at),
                self._param("now", "TIMESTAMP", now),
            ],
        )
        holder = self.get_lease(wanted.pipeline_id, now)
        if holder is None:  # the row expired between the two statements (a TTL shorter than a query)
            return self.take_lease(wanted, now)
        if holder.run_id != wanted.run_id:
            self.release_lease(wanted.pipeline_id, wanted.run_id)
        return holder

    def advance_watermarks_holding(self, wanted: Lease, now: datetime, watermarks: dict[str, datetime]) -> Lease:
        """`take_lease`, then the watermarks, each in a statement of its own: BigQuery has no transaction across
        them here. The race left: a run whose lease expires between its check and its last watermark (a pause
        longer than the rest of its TTL, which the check has just renewed) can still move them while another run
        takes the lease."""
        holder = self.take_lease(wanted, now)
        if holder.run_id == wanted.run_id:
            for endpoint, watermark in watermarks.items():
                self.advance_watermark(wanted.pipeline_id, endpoint, watermark, wanted.run_id)
        return holder

    def get_lease(self, pipeline_id: str, now: datetime) -> Lease | None:
        rows = self._query(
            CURRENT_LEASE_SQL.format(table=self.leases.sql),
            [self._param("pipeline_id", "STRING", pipeline_id), self._param("now", "TIMESTAMP", now)],
        )
        if not rows:
            return None
        row = rows[0]
        return Lease(pipeline_id, row["run_id"], row["host"], _utc(row["taken_at"]), _utc(row["expires_at"]))

    def release_lease(self, pipeline_id: str, run_id: str) -> None:
        self._query(
            f"DELETE FROM {self.leases.sql} WHERE pipeline_id = @pipeline_id AND run_id = @run_id",
            [self._param("pipeline_id", "STRING", pipeline_id), self._param("run_id", "STRING", run_id)],
        )

    def close(self) -> None:
        self._client.close()


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _run_from_row(row) -> PipelineRun:
    return PipelineRun(
        run_id=row["run_id"],
        pipeline_id=row["pipeline_id"],
        status=RunStatus(row["status"]),
        start_time=_utc(row["start_time"]),
        end_time=_utc(row["end_time"]),
        records_processed=row["records_processed"],
        errors=list(row["errors"] or []),
        windows_done=row["windows_done"],
        windows_failed=row["windows_failed"],
        job_id=row["job_id"],
        endpoint_stats=json.loads(row["endpoint_stats"] or "{}"),
        dead_letter_rows=row["dead_letter_rows"] or 0,
        service_name=row["service_name"],
        service_version=row["service_version"],
        note=row["note"],
    )


def _schema_from_row(row) -> SchemaVersion:
    return SchemaVersion(
        pipeline_id=row["pipeline_id"],
        endpoint=row["endpoint"],
        version=row["version"],
        fields=json.loads(row["fields"]),
        changes=json.loads(row["changes"]),
        run_id=row["run_id"],
        recorded_at=_utc(row["recorded_at"]),
    )
