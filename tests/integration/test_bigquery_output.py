"""BigQuery output on DirectRunner against the BigQuery emulator (file loads go through the GCS emulator)."""

from __future__ import annotations

from datetime import datetime

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.cli import main
from beam_api_pipeline.outputs.base import BaseOutput
from beam_api_pipeline.outputs.write import WriteOutputs
from beam_api_pipeline.records.dead_letters import WriteDeadLetters
from beam_api_pipeline.run.factory import PipelineFactory
from tests.support import t

pytestmark = pytest.mark.timeout(180)

METHODS = ["file_loads", "streaming_inserts"]
ITEM_SCHEMA = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "updated_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
    {"name": "title", "type": "STRING"},
    {"name": "value", "type": "INTEGER"},
]
METADATA_SCHEMA = [
    {"name": "_pipeline_id", "type": "STRING"},
    {"name": "_endpoint", "type": "STRING"},
    {"name": "_window_start", "type": "TIMESTAMP"},
    {"name": "_window_end", "type": "TIMESTAMP"},
    {"name": "_extracted_at", "type": "TIMESTAMP"},
    {"name": "_run_id", "type": "STRING"},
]
NESTED_SCHEMA = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "updated_at", "type": "TIMESTAMP"},
    {"name": "labels", "type": "STRING", "mode": "REPEATED"},
    {
        "name": "user",
        "type": "RECORD",
        "fields": [{"name": "login", "type": "STRING"}, {"name": "roles", "type": "STRING", "mode": "REPEATED"}],
    },
    {"name": "payload", "type": "JSON"},
]


def bigquery_output(dataset: str, table_id: str, method: str, **config) -> dict:
    return {"type": "bigquery", "config": {"dataset_id": dataset, "table_id": table_id, "method": method, **config}}


def write_items(pipeline: beam.Pipeline, output: BaseOutput, rows: list[dict]) -> None:
    """`rows` written by `output` as the pipeline writes them: one batch of the `items` endpoint, WriteOutputs."""
    _ = {"items": pipeline | "Rows" >> beam.Create([rows])} | WriteOutputs([output])


def read_table(bq, table: str, columns: str = "*") -> list[dict]:
    return [dict(row) for row in bq.query(f"SELECT {columns} FROM `{table}` ORDER BY id").result()]


@pytest.mark.parametrize("method", METHODS)
def test_a_multi_window_run_lands_with_schema_partitioning_and_clustering(
    method, sample_api, write_config, dataset, bq, project, beam_args
):
    output = bigquery_output(
        dataset, "{endpoint}", method, schema=ITEM_SCHEMA, partition_field="updated_at", clustering_fields=["id"]
    )
    path, _config = write_config(output=[output])
    assert main(["run", "--config", str(path), "--end_time", "2024-01-05T00:00:00Z", *beam_args]) == 0

    table = f"{project}.{dataset}.items"
    rows = read_table(bq, table)
    expected = [r.as_json() for r in sample_api.dataset.window(t("2024-01-02"), t("2024-01-05"))]
    assert [row["id"] for row in rows] == sorted(r["id"] for r in expected) and len(rows) == 3 * 48
    by_id = {r["id"]: r for r in expected}
    for row in rows:
        source = by_id[row["id"]]
        assert (row["title"], row["value"]) == (source["title"], source["value"])
        assert row["updated_at"] == datetime.fromisoformat(source["updated_at"])
    metadata = bq.get_table(table)
    assert [(f.name, f.field_type, f.mode) for f in metadata.schema] == [
        ("id", "INTEGER", "REQUIRED"),
        ("updated_at", "TIMESTAMP", "REQUIRED"),
        ("title", "STRING", "NULLABLE"),
        ("value", "INTEGER", "NULLABLE"),
    ]
    assert (metadata.time_partitioning.type_, metadata.time_partitioning.field) == ("DAY", "updated_at")
    assert metadata.clustering_fields == ["id"]


@pytest.mark.parametrize("method", METHODS)
def test_nested_repeated_and_json_values_round_trip(method, write_config, dataset, bq, project, beam_args):
    _path, config = write_config(output=[bigquery_output(dataset, "nested", method, schema=NESTED_SCHEMA)])
    rows = [
        {
            "id": 1,
            "updated_at": "2024-01-02T03:04:05Z",
            "labels": ["a", "b"],
            "user": {"login": "ann", "roles": ["admin"]},
            "payload": {"k": [1, 2], "s": "x"},
        },
        {"id": 2, "updated_at": "2024-01-02T06:00:00Z", "labels": [], "user": None, "payload": None},
    ]
    output = PipelineFactory.output_of(config, 0, "20240102T000000Z-abcdef01")
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        write_items(pipeline, output, rows)

    got = read_table(bq, f"{project}.{dataset}.nested")
    assert [(r["id"], r["labels"], r["user"], r["payload"]) for r in got] == [
        (1, ["a", "b"], {"login": "ann", "roles": ["admin"]}, {"k": [1, 2], "s": "x"}),
        (2, [], None, None),
    ]
    assert got[0]["updated_at"] == t("2024-01-02T03:04:05")


@pytest.mark.parametrize("method", METHODS)
def test_merge_twice_over_overlapping_windows_keeps_one_row_per_key_with_the_newest_values(
    method, sample_api, write_config, dataset, bq, project, beam_args
):
    output = bigquery_output(dataset, "items", method, schema=ITEM_SCHEMA + METADATA_SCHEMA, write_disposition="merge")
    path, _config = write_config(output=[output], api_config={"transform": {"add_metadata": True}})

    first = ["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z", *beam_args]
    second = ["run", "--config", str(path), "--start_time", "2024-01-03T00:00:00Z"]
    second += ["--end_time", "2024-01-05T00:00:00Z", *beam_args]
    assert main(first) == 0
    assert main(second) == 0

    rows = read_table(bq, f"{project}.{dataset}.items", "id, updated_at, _run_id")
    ids = [row["id"] for row in rows]
    assert ids == sorted(sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-05")))
    runs = {row["_run_id"] for row in rows}
    assert len(runs) == 2
    first_run = {row["_run_id"] for row in rows if row["updated_at"] < t("2024-01-03")}
    second_run = {row["_run_id"] for row in rows if row["updated_at"] >= t("2024-01-03")}
    assert len(first_run) == len(second_run) == 1 and first_run != second_run
    assert [table.table_id for table in bq.list_tables(dataset)] == ["items"]


@pytest.mark.parametrize("method", METHODS)
def test_rejected_rows_reach_the_dead_letter_with_the_reason(
    method, write_config, dataset, bq, project, tmp_path, beam_args
):
    _path, config = write_config(output=[bigquery_output(dataset, "items", method, schema=ITEM_SCHEMA)])
    good = {"id": 1, "updated_at": "2024-01-02T00:00:00Z", "title": "ok", "value": 7}
    wrong_type = {"id": "one", "updated_at": "2024-01-02T00:00:00Z", "title": "bad id", "value": 1}
    unknown = {"id": 3, "updated_at": "2024-01-02T00:00:00Z", "colour": "red"}
    bad_time = {"id": 4, "updated_at": "not a time", "title": "bad time", "value": 2}
    rows = [good, wrong_type, unknown] + ([bad_time] if method == "streaming_inserts" else [])
    output = PipelineFactory.output_of(config, 0, "run-1")
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        write_items(pipeline, output, rows)
        rejected = output.rejected_rows() | beam.Flatten()
        nothing = pipeline | "Nothing" >> beam.Create([])
        _ = (nothing, nothing, rejected) | WriteDeadLetters("it_items", "run-1", path=str(tmp_path / "dead"))

    # under schema_contract evolve (the default) the table gains `colour` for row 3
    assert [(row["id"], row["colour"]) for row in read_table(bq, f"{project}.{dataset}.items")] == [
        (1, None),
        (3, "red"),
    ]
    dead = sorted(
        (json_row for f in (tmp_path / "dead").glob("dead_letter-run-1-*.jsonl") for json_row in _lines(f)),
        key=lambda d: (d["error_type"], d["error"]),
    )
    table = f"{project}.{dataset}.items"
    checked = [(d["kind"], d["endpoint"], d["destination"], d["error_type"], d["record"]) for d in dead]
    expected = [("row", "items", table, "SchemaMismatch", wrong_type)]
    if method == "streaming_inserts":
        # BigQuery itself refused it (insertErrors, through WriteToBigQuery's failed_rows_with_errors)
        expected.insert(0, ("row", "items", table, "BigQueryRejected", bad_time))
        assert dead[0]["error"].endswith("(invalid)")
    assert checked == expected
    assert [d["error"] for d in dead if d["error_type"] == "SchemaMismatch"] == ["id: expected an INTEGER, got 'one'"]


def _lines(path):
    import json

    return [json.loads(line) for line in path.read_text().splitlines()]
