"""`type: bigquery`: WriteToBigQuery per endpoint table, with schema checks, partitioning, clustering, rejected
rows for the dead letter, and `merge` (load into a per-run staging table, then one MERGE on the primary key)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.bigquery_tools import FileFormat, RetryStrategy
from apache_beam.options.pipeline_options import GoogleCloudOptions

from beam_api_pipeline.config.outputs import BigQueryOutputSettings
from beam_api_pipeline.core.beam_windows import count_all
from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.core.errors import ConfigError, OutputError
from beam_api_pipeline.gcp.clients import bigquery_client, default_project, use_emulators, workers_use_emulators
from beam_api_pipeline.outputs.base import BaseOutput, OutputContext
from beam_api_pipeline.outputs.bigquery_evolve import (
    EVOLVING_APPEND,
    EVOLVING_LOAD,
    STAGING_EXPIRY_HOURS,
    GrowTableFn,
    InsertAgainFn,
    LoadSchemaFn,
    evolved_load_schema,
    grown,
    new_table,
    table_fields,
)
from beam_api_pipeline.outputs.bigquery_tables import (
    avro_loadable,
    endpoint_table_id,
    merge_statement,
    missing_table_message,
)
from beam_api_pipeline.outputs.rejected import SCHEMA_MISMATCH, rejected_row
from beam_api_pipeline.outputs.typed_rows import ValueMismatch, typed_row
from beam_api_pipeline.schemas.bigquery_schema import AUTO, INFER, encode_json_columns, load_schema, row_problems
from beam_api_pipeline.schemas.infer import merge_all, observed_fields

logger = logging.getLogger(__name__)

REJECTED = "rejected"
#: The methods a table can grow by (`storage_write_api` writes through a schema fixed when the job is built).
_GROWING_METHODS = ("file_loads", "streaming_inserts")
#: How a table gains columns, by (method, merge), as the schema history says it.
_HOW_TABLES_GROW = {
    ("file_loads", False): "load jobs with schemaUpdateOptions",
    ("file_loads", True): "load jobs with schemaUpdateOptions into the staging table, tables.patch before MERGE",
    ("streaming_inserts", False): "tables.patch before the rows",
    ("streaming_inserts", True): "tables.patch before the rows and before MERGE",
}
_METHODS = {
    "file_loads": WriteToBigQuery.Method.FILE_LOADS,
    "streaming_inserts": WriteToBigQuery.Method.STREAMING_INSERTS,
    "storage_write_api": WriteToBigQuery.Method.STORAGE_WRITE_API,
}


def _table_options(partition_field: str | None, clustering_fields: list[str]) -> dict[str, Any]:
    """WriteToBigQuery's `additional_bq_parameters` for day partitioning and clustering."""
    options: dict[str, Any] = {}
    if partition_field:
        options["timePartitioning"] = {"type": "DAY", "field": partition_field}
    if clustering_fields:
        options["clustering"] = {"fields": list(clustering_fields)}
    return options


def _rejection_reason(errors: list[dict[str, Any]]) -> str:
    """BigQuery's insert errors of one row as one line."""
    parts = []
    for error in errors:
        location = f"{error['location']}: " if error.get("location") else ""
        parts.append(f"{location}{error.get('message', '')} ({error.get('reason', 'unknown')})")
    return "; ".join(parts)


class _CheckRowsFn(beam.DoFn):
    """Rows that fit the declared schema pass (with `new_fields_ok`, new fields too: the table gains their
    columns); the others go to REJECTED with the reason."""

    def __init__(self, fields: list[dict[str, Any]], rejection: dict[str, str], new_fields_ok: bool = False):
        self._fields = fields
        self._rejection = rejection
        self._new_fields_ok = new_fields_ok

    def process(self, row: Any) -> Iterator[Any]:
        problems = row_problems(row, self._fields, new_fields_ok=self._new_fields_ok)
        if problems:
            yield pvalue.TaggedOutput(REJECTED, rejected_row(**self._rejection, error="; ".join(problems), row=row))
        else:
            yield row


class _TypedRowsFn(beam.DoFn):
    """Rows as their columns hold them (`typed_rows.typed_row`: a TIMESTAMP a datetime, a DATE a date, a NUMERIC a
    Decimal), as Beam's Avro temp files take them; a row a column does not take goes to REJECTED, with the
    reason (`rejection` holds the rest of its dead letter)."""

    def __init__(self, fields: list[dict[str, Any]], time_formats: dict[str, str], rejection: dict[str, str]):
        self._fields = fields
        self._time_formats = time_formats
        self._rejection = rejection

    def process(self, row: Any) -> Iterator[Any]:
        try:
            yield typed_row(row, self._fields, self._time_formats)
        except ValueMismatch as error:
            yield pvalue.TaggedOutput(REJECTED, rejected_row(**self._rejection, error=str(error), row=row))


class _EnsureTablesFn(beam.DoFn):
    """Creates the target table (schema, partitioning, clustering) and the run's staging table if missing."""

    def __init__(self, target: TableName, staging: TableName | None, fields, partition_field, clustering_fields):
        self._target = target
        self._staging = staging
        self._fields = fields
        self._partition_field = partition_field
        self._clustering_fields = clustering_fields

    def setup(self) -> None:
        self._client = bigquery_client(self._target.project)

    def teardown(self) -> None:
        self._client.close()

    def process(self, _element: Any) -> Iterator[str]:
        target = new_table(self._target, self._fields, self._partition_field, self._clustering_fields)
        self._client.create_table(target, exists_ok=True)
        if self._staging is not None:
            staging = new_table(self._staging, self._fields, None, [])
            staging.expires = datetime.now(UTC) + timedelta(hours=STAGING_EXPIRY_HOURS)
            self._client.create_table(staging, exists_ok=True)
        yield str(self._target)


class _MergeFn(beam.DoFn):
    """One MERGE of the staging table into the target, then drop the staging table; `_loaded` (a side input on
    the load's result) makes it wait for the load."""

    def __init__(
        self,
        target: TableName,
        staging: TableName,
        key: str,
        timestamp: str,
        table_options: dict,
        grows: bool = False,
    ):
        self._target = target
        self._staging = staging
        self._key = key
        self._timestamp = timestamp
        self._table_options = table_options
        self._grows = grows

    def setup(self) -> None:
        self._client = bigquery_client(self._target.project)

    def teardown(self) -> None:
        self._client.close()

    def process(self, _element: Any, _loaded: list) -> Iterator[str]:
        from google.api_core.exceptions import NotFound

        client = self._client
        try:
            staging = client.get_table(str(self._staging))
        except NotFound:
            logger.info("merge into %s: nothing was staged", self._target)
            yield str(self._target)
            return
        fields = [field.to_api_repr() for field in staging.schema]
        partitioning = self._table_options.get("timePartitioning", {}).get("field")
        clustering = self._table_options.get("clustering", {}).get("fields", [])
        client.create_table(new_table(self._target, fields, partitioning, clustering), exists_ok=True)
        if self._grows:  # the target gains the staged columns it lacks before the MERGE names them
            grown(client, self._target, table_fields(staging))
        columns = [field.name for field in staging.schema]
        job = client.query(merge_statement(self._target, self._staging, columns, self._key, self._timestamp))
        job.result()
        logger.info("merged %s into %s: %s rows changed", self._staging, self._target, job.num_dml_affected_rows)
        client.delete_table(str(self._staging), not_found_ok=True)
        yield str(self._target)


class BigQueryOutput(BaseOutput):
    """`type: bigquery`. `write` returns one element per table once its rows are in it (after the MERGE in
    merge mode); `rejected_rows` gives the rows the schema check or BigQuery refused, with the reasons.

    An endpoint's table grows with its rows (`bigquery_evolve`) under `schema: infer` (the default when `schema`
    is not given and the endpoint's `schema_contract` is `evolve`) and, with any schema, under `evolve`: file
    loads carry the run's extended schema with `schemaUpdateOptions`, streaming inserts patch the table first,
    a MERGE's target gains the staged columns first."""

    def __init__(self, settings: BigQueryOutputSettings, context: OutputContext):
        super().__init__(settings, context)
        settings = self.settings
        where = f"output (bigquery {settings.dataset_id}.{settings.table_id}).config"
        if settings.method == "streaming_inserts" and settings.write_disposition == "truncate":
            raise OutputError(f"{where}.write_disposition: truncate needs method file_loads")
        if settings.table_schema == AUTO and settings.method != "file_loads":
            raise OutputError(f"{where}.schema: auto (schema detection) needs method file_loads")
        if settings.table_schema == INFER and settings.method not in _GROWING_METHODS:
            raise OutputError(f"{where}.schema: infer needs method file_loads or streaming_inserts")
        self._where = where
        self._schema = load_schema(settings.table_schema, f"{where}.schema")
        self._rejected: list[pvalue.PCollection] = []
        self._grown: dict[str, str] = {}

    def _schema_of(self, endpoint: str):
        """The `schema` in force for `endpoint`: INFER when not given under `schema_contract: evolve`."""
        settings = self.settings
        contract = self.context.endpoints[endpoint].schema_contract
        if (
            self._schema is None
            and not settings.schema_given
            and contract == "evolve"
            and settings.method in _GROWING_METHODS
        ):
            return INFER
        return self._schema

    def _grows(self, endpoint: str) -> bool:
        """Whether `endpoint`'s table gains the columns of new fields in this run."""
        schema = self._schema_of(endpoint)
        evolves = self.context.endpoints[endpoint].schema_contract == "evolve" and isinstance(schema, list)
        return self.settings.method in _GROWING_METHODS and (schema == INFER or evolves)

    def _avro_loads(self, endpoint: str, fields: list[dict[str, Any]] | None, grows: bool) -> bool:
        """Whether `endpoint`'s load files are Avro (`FileFormat.AVRO`), not JSON, by `temp_file_format`: with
        `auto` or `avro`, file loads with a schema known when the graph is built (a declared one the run does not
        extend) of types Beam's Avro files hold (`bigquery_tables.avro_loadable`); `avro` without one is refused.
        A table that grows in the run is loaded from JSON files: its schema is the run's (a side input), which may
        gain a JSON column Beam's Avro writer has no type for."""
        chosen = self.settings.temp_file_format
        if chosen == "json" or self.settings.method != "file_loads":
            return False
        possible = fields is not None and not grows and avro_loadable(fields)
        if chosen == "avro" and not possible:
            raise OutputError(
                f"{self._where}.temp_file_format: avro needs a declared schema that endpoint {endpoint}'s run does "
                "not extend (schema_contract freeze, discard_row or discard_value) and no JSON, BIGNUMERIC, "
                "DATETIME, INTERVAL or RANGE column; set auto or json"
            )
        return possible

    def rejected_rows(self) -> list[pvalue.PCollection]:
        return list(self._rejected)

    def schema_table(self, endpoint: str) -> str | None:
        return self._grown.get(endpoint)

    def table(self, endpoint: str, project: str | None) -> TableName:
        """The table `endpoint`'s rows go to."""
        settings = self.settings
        project = settings.project or project or default_project()
        if not project:
            raise OutputError("output bigquery: no project; set config.project or the --project pipeline option")
        table_id = endpoint_table_id(settings.table_id, endpoint, len(self.context.endpoints))
        return TableName(project, settings.dataset_id, table_id)

    def write_batches(self, batches: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        """`write`, with the run's inferred schema taken from whole batches (a table that grows by file loads
        needs it)."""
        rows = batches | "Rows" >> beam.FlatMap(lambda batch: batch)
        observed = None
        if self._grows(endpoint) and self.settings.method == "file_loads":
            observed = batches | "InferBatch" >> beam.Map(observed_fields, self.context.timestamp_columns)
        return self._write_rows(rows, endpoint, observed)

    def write(self, rows: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        return self._write_rows(rows, endpoint, None)

    def _write_rows(
        self, rows: pvalue.PCollection, endpoint: str, observed: pvalue.PCollection | None
    ) -> pvalue.PCollection:
        """`observed`: the inferred fields of batches of `rows` (None: inferred row by row, when needed)."""
        use_emulators()
        settings = self.settings
        pipeline = rows.pipeline
        workers_use_emulators(pipeline.options)
        target = self.table(endpoint, pipeline.options.view_as(GoogleCloudOptions).project)
        merge = settings.write_disposition == "merge"
        destination = target.staging(self.context.run_id) if merge else target
        schema = self._schema_of(endpoint)
        grows = self._grows(endpoint)
        fields = schema if isinstance(schema, list) else None
        if schema is None:
            self._refuse_missing(target)
        if grows:
            self._grown[endpoint] = f"bigquery table {target} ({_HOW_TABLES_GROW[settings.method, merge]})"
        table_options = _table_options(settings.partition_field, settings.clustering_fields)
        rejection = {
            "pipeline_id": self.context.pipeline_id,
            "run_id": self.context.run_id,
            "endpoint": endpoint,
            "destination": str(target),
        }

        avro = self._avro_loads(endpoint, fields, grows)
        if avro:  # typing a row is its check: typed_row refuses what row_problems does (naming the first problem)
            endpoint_of = self.context.endpoints[endpoint]
            typed = rows | "TypedRows" >> beam.ParDo(
                _TypedRowsFn(
                    fields,
                    {endpoint_of.timestamp_column: endpoint_of.time_format},
                    {**rejection, "error_type": SCHEMA_MISMATCH},
                )
            ).with_outputs(REJECTED, main="typed")
            self._rejected.append(typed[REJECTED])
            rows = typed.typed
        elif fields is not None:
            checked = rows | "CheckSchema" >> beam.ParDo(
                _CheckRowsFn(fields, {**rejection, "error_type": SCHEMA_MISMATCH}, new_fields_ok=grows)
            ).with_outputs(REJECTED, main="valid")
            self._rejected.append(checked[REJECTED])
            rows = checked.valid
        streams = settings.method != "file_loads"
        if fields is not None:
            ready = (
                pipeline
                | f"TablesOf[{endpoint}]" >> beam.Create([None])
                | "EnsureTables"
                >> beam.ParDo(
                    _EnsureTablesFn(
                        target,
                        destination if merge else None,
                        fields,
                        settings.partition_field,
                        settings.clustering_fields,
                    )
                )
            )
            rows = rows | "AfterTablesExist" >> beam.Map(lambda row, _ready: row, pvalue.AsSingleton(ready))
        if grows and streams:
            grow = GrowTableFn(
                destination,
                fields or [],
                self.context.timestamp_columns,
                None if merge else settings.partition_field,
                [] if merge else settings.clustering_fields,
                staging=merge,
            )
            rows = rows | "GrowTable" >> beam.ParDo(grow)
        elif fields is not None and streams:
            rows = rows | "EncodeJson" >> beam.Map(encode_json_columns, fields)

        schema_argument, side_inputs = self._schema_argument(schema, fields), ()
        load_options = None if merge else table_options
        if grows and not streams:
            if observed is None:
                columns = self.context.timestamp_columns
                observed = rows | "InferRow" >> beam.Map(lambda row: observed_fields([row], columns))
            load_fields = (
                observed
                | "MergeRowSchemas" >> beam.CombineGlobally(merge_all).without_defaults()
                | "LoadSchema" >> beam.ParDo(LoadSchemaFn(target, fields or []))
            )
            schema_argument, side_inputs = evolved_load_schema, (pvalue.AsSingleton(load_fields, default_value=None),)
            evolving = EVOLVING_LOAD if settings.write_disposition == "truncate" else EVOLVING_APPEND
            load_options = {**(load_options or {}), **evolving}

        result = rows | "WriteToBigQuery" >> WriteToBigQuery(
            destination.beam_spec,
            schema=schema_argument,
            schema_side_inputs=side_inputs,
            method=_METHODS[settings.method],
            temp_file_format=FileFormat.AVRO if avro else FileFormat.JSON,
            create_disposition=(
                BigQueryDisposition.CREATE_NEVER if schema is None else BigQueryDisposition.CREATE_IF_NEEDED
            ),
            write_disposition=(
                BigQueryDisposition.WRITE_TRUNCATE
                if settings.write_disposition == "truncate"
                else BigQueryDisposition.WRITE_APPEND
            ),
            additional_bq_parameters=load_options,
            insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
            ignore_unknown_columns=grows and streams,
            # a streaming run's polls: batches per poll window (Prism cannot decode the windowed fixed-shard
            # reshuffle Beam uses otherwise)
            with_auto_sharding=self.context.streaming,
        )
        written = self._written(result, rejection, destination, grows)
        if not merge:
            return written
        keyed = self.context.endpoints[endpoint]
        merge_fn = _MergeFn(target, destination, keyed.primary_key, keyed.timestamp_column, table_options, grows)
        return (
            pipeline
            | f"MergeOf[{endpoint}]" >> beam.Create([None])
            | "Merge" >> beam.ParDo(merge_fn, pvalue.AsList(written))
        )

    def _refuse_missing(self, target: TableName) -> None:
        """A ConfigError (exit 2, before any request to the API) when `target` does not exist and nothing would
        make it (`schema: null`, CREATE_NEVER)."""
        from google.api_core.exceptions import NotFound

        client = bigquery_client(target.project)
        try:
            client.get_table(str(target))
        except NotFound:
            raise ConfigError(missing_table_message(f"{self._where}.schema", target)) from None
        finally:
            client.close()

    @staticmethod
    def _schema_argument(schema, fields):
        if schema == AUTO:
            return "SCHEMA_AUTODETECT"
        return {"fields": fields} if fields is not None else None

    def _written(self, result, rejection: dict[str, str], destination: TableName, grows: bool) -> pvalue.PCollection:
        """One element naming `destination` once every row is in it (or refused); with a table that `grows`, a
        streamed row that raced its patch is inserted again first."""
        name = str(destination)
        if self.settings.method == "file_loads":
            jobs = (
                result.destination_load_jobid_pairs,
                result.destination_copy_jobid_pairs,
            ) | "AllJobs" >> beam.Flatten()
            return count_all(jobs, "JobsDone") | "Loaded" >> beam.Map(lambda _n: name)
        failed = result.failed_rows_with_errors
        if grows:
            failed = failed | "InsertAgain" >> beam.ParDo(InsertAgainFn())
        refused = failed | "Refused" >> beam.MapTuple(
            lambda _table, row, errors: rejected_row(
                **rejection, error_type="BigQueryRejected", error=_rejection_reason(errors), row=row
            )
        )
        self._rejected.append(refused)
        return count_all(refused, "InsertsDone") | "Inserted" >> beam.Map(lambda _n: name)
