"""The BigQuery emulator as patched by `emulators.sh install` (its second patch,
tests/integration/bqemulator-self-describing-loads.patch), driven with the google-cloud-bigquery client: a load of a
self-describing file (Avro, Parquet) matches the file's fields to the table's columns by name, as BigQuery does
(https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-avro and `...-parquet`): a table column the file
lacks is NULL, whatever the order of either. Without the patch bqemulator 1.4.0 inserts the file's fields by
position (`Binder Error: table t has 3 columns but 2 values were supplied`, or a value in the wrong column when the
counts agree)."""

from __future__ import annotations

import io

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def table(bq, project, dataset) -> str:
    from google.cloud import bigquery

    name = f"{project}.{dataset}.t"
    schema = [
        bigquery.SchemaField("id", "INTEGER", mode="REQUIRED"),
        bigquery.SchemaField("note", "STRING"),
        bigquery.SchemaField("title", "STRING"),
    ]
    bq.create_table(bigquery.Table(name, schema=schema))
    return name


def _load(bq, table: str, contents: bytes, source_format: str) -> None:
    from google.cloud import bigquery

    config = bigquery.LoadJobConfig(source_format=source_format, write_disposition="WRITE_APPEND")
    bq.load_table_from_file(io.BytesIO(contents), table, job_config=config).result()


def _rows(bq, table: str) -> list[dict]:
    return [dict(row) for row in bq.query(f"SELECT * FROM `{table}` ORDER BY id").result()]


def test_an_avro_load_matches_fields_by_name_and_a_missing_column_is_null(bq, table):
    schema = {
        "type": "record",
        "name": "r",
        "fields": [{"name": "title", "type": ["null", "string"]}, {"name": "id", "type": "long"}],
    }
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(schema), [{"id": 1, "title": "one"}, {"id": 2, "title": None}])

    _load(bq, table, buffer.getvalue(), "AVRO")

    assert _rows(bq, table) == [{"id": 1, "note": None, "title": "one"}, {"id": 2, "note": None, "title": None}]


def test_a_parquet_load_matches_columns_by_name_in_another_order(bq, table):
    rows = pa.table({"title": ["one", "two"], "note": ["n1", None], "id": [1, 2]})
    buffer = io.BytesIO()
    pq.write_table(rows, buffer)

    _load(bq, table, buffer.getvalue(), "PARQUET")

    assert _rows(bq, table) == [{"id": 1, "note": "n1", "title": "one"}, {"id": 2, "note": None, "title": "two"}]
