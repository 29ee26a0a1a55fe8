"""The local output writing Parquet and Avro files alone, through WriteOutputs in a TestPipeline on the local
runner: the columns are the schema before extended by the run's observed fields (the RunSchemas side input), at
most `batch_size` rows a file, the count WriteOutputs gives the commit is the number of files, and a row a column
does not take is in `rejected_rows` (a `SchemaMismatch` dead-letter row naming the value), not in a file."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import apache_beam as beam
import fastavro
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that

from beam_api_pipeline.config.outputs import LocalOutputSettings
from beam_api_pipeline.core.errors import OutputError
from beam_api_pipeline.outputs.base import OutputContext, OutputEndpoint
from beam_api_pipeline.outputs.columnar import RunSchemas
from beam_api_pipeline.outputs.files import LocalOutput
from beam_api_pipeline.outputs.write import WriteOutputs
from beam_api_pipeline.schemas.infer import observed_fields
from tests.transform_support import Kept, pipeline, run

BEFORE = [
    {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "value", "type": "INTEGER", "mode": "NULLABLE"},
]
ROWS = [
    {"id": 1, "updated_at": "2024-01-02T00:00:00Z", "value": 5},
    {"id": 2, "updated_at": "2024-01-02T01:00:00Z", "value": "v550", "user": {"login": "ana"}},
    {"id": 3, "updated_at": "2024-01-02T02:00:00Z", "value": 7, "user": {"login": "bo", "tags": ["x"]}},
    {"id": 4, "updated_at": "2024-01-02T03:00:00Z", "value": None},
    {"id": 5, "updated_at": "2024-01-02T04:00:00Z", "value": 9},
]
CONTEXT = OutputContext(
    "acme",
    "run-1",
    False,
    {"items": OutputEndpoint(primary_key="id", timestamp_column="updated_at", time_format="iso8601")},
)


def _write(tmp_path, file_format: str) -> tuple[list, list]:
    """ROWS written in batches of 2 by a local output (`batch_size` 2); returns (the counts WriteOutputs gave, the
    rejected rows without their `failed_at`)."""
    output = LocalOutput(
        LocalOutputSettings(path=str(tmp_path / "out"), file_format=file_format, batch_size=2), CONTEXT
    )
    p = pipeline()
    batches = p | "Batches" >> beam.Create([ROWS[:2], ROWS[2:4], ROWS[4:]])
    observed = p | "Observed" >> beam.Create([("items", observed_fields(ROWS, frozenset({"updated_at"})))])
    counts = {"items": batches} | WriteOutputs([output], RunSchemas(observed, {"items": BEFORE}))
    [rejected] = output.rejected_rows()
    assert_that(counts, Kept(tmp_path / "counts.json"), label="KeepCounts")
    assert_that(
        rejected | beam.Map(lambda row: {k: v for k, v in row.items() if k != "failed_at"}),
        Kept(tmp_path / "rejected.json"),
        label="KeepRejected",
    )
    run(p)
    return Kept(tmp_path / "counts.json").elements(), Kept(tmp_path / "rejected.json").elements()


EXPECTED_COLUMNS = ["id", "updated_at", "value", "user"]


def _expected(row: dict) -> dict:
    user = row.get("user")
    return {
        "id": row["id"],
        "updated_at": datetime.fromisoformat(row["updated_at"]).astimezone(UTC),
        "value": row["value"],
        "user": None if user is None else {"login": user["login"], "tags": user.get("tags")},
    }


def _read(path, file_format: str) -> tuple[list[str], list[dict]]:
    if file_format == "parquet":
        table = pq.read_table(path)
        return table.schema.names, table.to_pylist()
    reader = fastavro.reader(io.BytesIO(path.read_bytes()))
    return [field["name"] for field in reader.writer_schema["fields"]], list(reader)


@pytest.mark.parametrize("file_format", ["parquet", "avro"])
def test_files_have_the_run_schemas_columns_and_rows_a_column_refuses_are_rejected(tmp_path, file_format):
    counts, rejected = _write(tmp_path, file_format)

    files = sorted((tmp_path / "out").glob(f"items-run-1-*.{file_format}"))
    read = [_read(path, file_format) for path in files]
    assert counts == [len(files)]
    assert all(columns == EXPECTED_COLUMNS and 1 <= len(rows) <= 2 for columns, rows in read)
    rows = sorted((row for _, file_rows in read for row in file_rows), key=lambda row: row["id"])
    assert rows == [_expected(row) for row in ROWS if row["id"] != 2]
    assert rejected == [
        {
            "kind": "row",
            "pipeline_id": "acme",
            "run_id": "run-1",
            "endpoint": "items",
            "destination": str(tmp_path / "out"),
            "error_type": "SchemaMismatch",
            "error": "value: expected an INTEGER, got 'v550'",
            "record": ROWS[1],
        }
    ]


def test_a_columnar_output_without_the_run_schemas_is_refused(tmp_path):
    output = LocalOutput(LocalOutputSettings(path=str(tmp_path), file_format="avro"), CONTEXT)
    p = pipeline()
    with pytest.raises(OutputError) as caught:
        _ = {"items": p | beam.Create([ROWS])} | WriteOutputs([output])
    assert str(caught.value) == "file_format avro: no run schemas (WriteOutputs gives them)"
