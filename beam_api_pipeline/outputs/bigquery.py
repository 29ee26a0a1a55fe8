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
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.options.pipeline_options import GoogleCloudOptions

from beam_api_pipeline.config.outputs import BigQueryOutputSettings
from beam_api_pipeline.core.beam_windows import count_all
from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.core.errors import OutputError
from beam_api_pipeline.gcp.clients import bigquery_client, default_project, use_emulators
from beam_api_pipeline.outputs.base import BaseOutput, OutputContext
from beam_api_pipeline.outputs.bigquery_tables import endpoint_table_id, merge_statement
from beam_api_pipeline.outputs.rejected import rejected_row
from beam_api_pipeline.schemas.bigquery_schema import AUTO, encode_json_columns, load_schema, row_problems

logger = logging.getLogger(__name__)

REJECTED = "rejected"
STAGING_EXPIRY_HOURS = 24
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
    """Rows that fit the declared schema pass; the others go to REJECTED with the reason."""

    def __init__(self, fields: list[dict[str, Any]], rejection: dict[str, str]):
        self._fields = fields
        self._rejection = rejection

    def process(self, row: Any) -> Iterator[Any]:
        problems = row_problems(row, self._fields)
        if problems:
            yield pvalue.TaggedOutput(REJECTED, rejected_row(**self._rejection, error="; ".join(problems), row=row))
        else:
            yield row


def _new_table(name: TableName, fields, partition_field, clustering_fields):
    from google.cloud import bigquery

    table = bigquery.Table(str(name), schema=[bigquery.SchemaField.from_api_repr(f) for f in fields])
    if partition_field:
        table.time_partitioning = bigquery.TimePartitioning(field=partition_field)
    if clustering_fields:
        table.clustering_fields = list(clustering_fields)
    return table


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
        target = _new_table(self._target, self._fields, self._partition_field, self._clustering_fields)
        self._client.create_table(target, exists_ok=True)
        if self._staging is not None:
            staging = _new_table(self._staging, self._fields, None, [])
            staging.expires = datetime.now(UTC) + timedelta(hours=STAGING_EXPIRY_HOURS)
            self._client.create_table(staging, exists_ok=True)
        yield str(self._target)


class _MergeFn(beam.DoFn):
    """One MERGE of the staging table into the target, then drop the staging table; `_loaded` (a side input on
    the load's result) makes it wait for the load."""

    def __init__(self, target: TableName, staging: TableName, key: str, timestamp: str, table_options: dict):
        self._target = target
        self._staging = staging
        self._key = key
        self._timestamp = timestamp
        self._table_options = table_options

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
        client.create_table(_new_table(self._target, fields, partitioning, clustering), exists_ok=True)
        columns = [field.name for field in staging.schema]
        job = client.query(merge_statement(self._target, self._staging, columns, self._key, self._timestamp))
        job.result()
        logger.info("merged %s into %s: %s rows changed", self._staging, self._target, job.num_dml_affected_rows)
        client.delete_table(str(self._staging), not_found_ok=True)
        yield str(self._target)


class BigQueryOutput(BaseOutput):
    """`type: bigquery`. `write` returns one element per table once its rows are in it (after the MERGE in
    merge mode); `rejected_rows` gives the rows the schema check or BigQuery refused, with the reasons."""

    def __init__(self, settings: BigQueryOutputSettings, context: OutputContext):
        super().__init__(settings, context)
        settings = self.settings
        where = f"output (bigquery {settings.dataset_id}.{settings.table_id}).config"
        if settings.method == "streaming_inserts" and settings.write_disposition == "truncate":
            raise OutputError(f"{where}.write_disposition: truncate needs method file_loads")
        if settings.table_schema == AUTO and settings.method != "file_loads":
            raise OutputError(f"{where}.schema: auto (schema detection) needs method file_loads")
        self._schema = load_schema(settings.table_schema, f"{where}.schema")
        self._rejected: list[pvalue.PCollection] = []

    def rejected_rows(self) -> list[pvalue.PCollection]:
        return list(self._rejected)

    def table(self, endpoint: str, project: str | None) -> TableName:
        """The table `endpoint`'s rows go to."""
        settings = self.settings
        project = settings.project or project or default_project()
        if not project:
            raise OutputError("output bigquery: no project; set config.project or the --project pipeline option")
        table_id = endpoint_table_id(settings.table_id, endpoint, len(self.context.endpoints))
        return TableName(project, settings.dataset_id, table_id)

    def write(self, rows: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        use_emulators()
        settings = self.settings
        pipeline = rows.pipeline
        target = self.table(endpoint, pipeline.options.view_as(GoogleCloudOptions).project)
        merge = settings.write_disposition == "merge"
        destination = target.staging(self.context.run_id) if merge else target
        fields = self._schema if isinstance(self._schema, list) else None
        table_options = _table_options(settings.partition_field, settings.clustering_fields)
        rejection = {
            "pipeline_id": self.context.pipeline_id,
            "run_id": self.context.run_id,
            "endpoint": endpoint,
            "destination": str(target),
        }

        if fields is not None:
            checked = rows | "CheckSchema" >> beam.ParDo(
                _CheckRowsFn(fields, {**rejection, "error_type": "SchemaMismatch"})
            ).with_outputs(REJECTED, main="valid")
            self._rejected.append(checked[REJECTED])
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
            rows = checked.valid | "AfterTablesExist" >> beam.Map(lambda row, _ready: row, pvalue.AsSingleton(ready))
            if settings.method != "file_loads":
                rows = rows | "EncodeJson" >> beam.Map(encode_json_columns, fields)

        result = rows | "WriteToBigQuery" >> WriteToBigQuery(
            destination.beam_spec,
            schema=self._schema_argument(fields),
            method=_METHODS[settings.method],
            create_disposition=(
                BigQueryDisposition.CREATE_NEVER if self._schema is None else BigQueryDisposition.CREATE_IF_NEEDED
            ),
            write_disposition=(
                BigQueryDisposition.WRITE_TRUNCATE
                if settings.write_disposition == "truncate"
                else BigQueryDisposition.WRITE_APPEND
            ),
            additional_bq_parameters=None if merge else table_options,
            insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
            # a streaming run's polls: batches per poll window (Prism cannot decode the windowed fixed-shard
            # reshuffle Beam uses otherwise)
            with_auto_sharding=self.context.streaming,
        )
        written = self._written(result, rejection, destination)
        if not merge:
            return written
        keyed = self.context.endpoints[endpoint]
        merge_fn = _MergeFn(target, destination, keyed.primary_key, keyed.timestamp_column, table_options)
        return (
            pipeline
            | f"MergeOf[{endpoint}]" >> beam.Create([None])
            | "Merge" >> beam.ParDo(merge_fn, pvalue.AsList(written))
        )

    def _schema_argument(self, fields):
        if self._schema == AUTO:
            return "SCHEMA_AUTODETECT"
        return {"fields": fields} if fields is not None else None

    def _written(self, result, rejection: dict[str, str], destination: TableName) -> pvalue.PCollection:
        """One element naming `destination` once every row is in it (or refused)."""
        name = str(destination)
        if self.settings.method == "file_loads":
            jobs = (
                result.destination_load_jobid_pairs,
                result.destination_copy_jobid_pairs,
            ) | "AllJobs" >> beam.Flatten()
            return count_all(jobs, "JobsDone") | "Loaded" >> beam.Map(lambda _n: name)
        refused = result.failed_rows_with_errors | "Refused" >> beam.MapTuple(
            lambda _table, row, errors: rejected_row(
                **rejection, error_type="BigQueryRejected", error=_rejection_reason(errors), row=row
            )
        )
        self._rejected.append(refused)
        return count_all(refused, "InsertsDone") | "Inserted" >> beam.Map(lambda _n: name)
