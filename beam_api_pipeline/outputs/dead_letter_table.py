"""Dead letters in a BigQuery table (`dead_letter: {table: project.dataset.table}`): writing them with streaming
inserts, and reading one run's rows back for `replay`."""

from __future__ import annotations

import json
from contextlib import closing
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.gcp.bigquery import BigQueryDisposition, RetryStrategy, WriteToBigQuery

from beam_api_pipeline.core.beam_windows import count_all
from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.gcp.clients import bigquery_client, use_emulators

#: The table's schema; `record` holds the record that could not be placed or written, as JSON text, and for a
#: failed child task its parent (`{"parent": {"key": ..., "fields": {...}}}`).
DEAD_LETTER_FIELDS = [
    {"name": "kind", "type": "STRING", "mode": "REQUIRED"},
    {"name": "pipeline_id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "run_id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "endpoint", "type": "STRING", "mode": "NULLABLE"},
    {"name": "destination", "type": "STRING", "mode": "NULLABLE"},
    {"name": "window_start", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "window_end", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "failed_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
    {"name": "status", "type": "STRING", "mode": "NULLABLE"},
    {"name": "error_type", "type": "STRING", "mode": "NULLABLE"},
    {"name": "error", "type": "STRING", "mode": "NULLABLE"},
    {"name": "pages_fetched", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "records_fetched", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "retries", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "record", "type": "STRING", "mode": "NULLABLE"},
]
_COLUMNS = [field["name"] for field in DEAD_LETTER_FIELDS]


def to_table_row(row: dict[str, Any]) -> dict[str, Any]:
    """A dead-letter row in the table's columns (`record` as JSON text)."""
    table_row = {column: row.get(column) for column in _COLUMNS}
    if "record" in row:
        table_row["record"] = json.dumps(row["record"], default=str)
    elif "parent" in row:
        table_row["record"] = json.dumps({"parent": row["parent"]}, default=str)
    return table_row


def from_table_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row read back from the table, as the dead-letter files hold it."""
    data = dict(row)
    if data.get("record") is not None:
        data["record"] = json.loads(data["record"])
    if data.get("kind") == "window" and data.get("record") is not None:
        data["parent"] = data.pop("record")["parent"]
    return data


class WriteDeadLetterTable(beam.PTransform):
    """Dead-letter rows in; one element naming the table out, once every row is inserted."""

    def __init__(self, table: str):
        super().__init__()
        self._table = TableName.parse(table)

    def expand(self, rows: pvalue.PCollection) -> pvalue.PCollection:
        use_emulators()
        result = (
            rows
            | "ToTableRows" >> beam.Map(to_table_row)
            | "WriteToBigQuery"
            >> WriteToBigQuery(
                self._table.beam_spec,
                schema={"fields": DEAD_LETTER_FIELDS},
                method=WriteToBigQuery.Method.STREAMING_INSERTS,
                create_disposition=BigQueryDisposition.CREATE_IF_NEEDED,
                write_disposition=BigQueryDisposition.WRITE_APPEND,
                insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
            )
        )
        name = str(self._table)
        return count_all(result.failed_rows_with_errors, "InsertsDone") | "Inserted" >> beam.Map(lambda _n: name)


def read_dead_letter_table(table: str, pipeline_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """The rows of one run of `pipeline_id` (its latest run with dead letters when `run_id` is None)."""
    name = TableName.parse(table)
    from google.cloud import bigquery

    with closing(bigquery_client(name.project)) as client:
        run_filter = (
            "run_id = @run_id"
            if run_id
            else (f"run_id = (SELECT MAX(run_id) FROM {name.sql} WHERE pipeline_id = @pipeline_id)")
        )
        parameters = [bigquery.ScalarQueryParameter("pipeline_id", "STRING", pipeline_id)]
        if run_id:
            parameters.append(bigquery.ScalarQueryParameter("run_id", "STRING", run_id))
        query = f"SELECT * FROM {name.sql} WHERE pipeline_id = @pipeline_id AND {run_filter}"
        job = client.query(query, job_config=bigquery.QueryJobConfig(query_parameters=parameters))
        return [from_table_row(dict(row.items())) for row in job.result()]
