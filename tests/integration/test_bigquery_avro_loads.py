"""File loads from Avro temp files, against the (patched) BigQuery and GCS emulators: with `temp_file_format: auto`
and a declared schema the run does not extend (a `schema_contract` other than `evolve`), `file_loads` writes Beam's
Avro temp files of the typed rows (`outputs.typed_rows`), and the load job says `sourceFormat: AVRO`; a row a column
cannot hold is a `SchemaMismatch` dead letter, never a failed load. A table that grows in the run is loaded from
JSON files, as is every table by default (`temp_file_format: json`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.outputs.rejected import SCHEMA_MISMATCH
from beam_api_pipeline.records.dead_letters import WriteDeadLetters
from beam_api_pipeline.run.factory import PipelineFactory
from tests.integration.test_bigquery_output import bigquery_output, read_table, write_items

pytestmark = pytest.mark.timeout(180)

TYPED_SCHEMA = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "updated_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
    {"name": "day", "type": "DATE"},
    {"name": "amount", "type": "NUMERIC"},
    {"name": "ok", "type": "BOOLEAN"},
    {"name": "score", "type": "FLOAT"},
    {"name": "tags", "type": "STRING", "mode": "REPEATED"},
    {
        "name": "user",
        "type": "RECORD",
        "fields": [
            {"name": "login", "type": "STRING"},
            {"name": "seen_at", "type": "TIMESTAMP"},
            {"name": "ranks", "type": "INTEGER", "mode": "REPEATED"},
        ],
    },
]
FROZEN = {"endpoints": {"items": {"schema_contract": "freeze"}}}
ROWS = [
    {
        "id": 1,
        "updated_at": "2024-01-02T03:04:05.123456Z",
        "day": "2024-01-02",
        "amount": "12.345678901",
        "ok": True,
        "score": 0.5,
        "tags": ["a", "b"],
        "user": {"login": "ann", "seen_at": "2024-01-01T23:00:00+01:00", "ranks": [3, 1]},
    },
    {
        "id": 2,
        "updated_at": "2024-01-02T06:00:00Z",
        "day": None,
        "amount": 7,
        "ok": False,
        "score": None,
        "tags": [],
        "user": None,
    },
]
#: 10 digits after the point: NUMERIC holds 9
TOO_PRECISE = {"id": 3, "updated_at": "2024-01-02T07:00:00Z", "amount": "0.1234567891", "tags": []}
WRONG_TYPE = {"id": "four", "updated_at": "2024-01-02T08:00:00Z", "tags": []}


def load_jobs(bq, table: str) -> list[str]:
    """The `sourceFormat` of each load job into `table` (`project.dataset.table`)."""
    _project, dataset, table_id = table.split(".")
    formats = []
    for job in bq.list_jobs():
        if job.job_type == "load" and (job.destination.dataset_id, job.destination.table_id) == (dataset, table_id):
            formats.append(job.source_format)
    return formats


def test_a_declared_schema_loads_from_avro_files_and_a_value_its_column_cannot_hold_is_a_dead_letter(
    write_config, dataset, bq, project, tmp_path, beam_args
):
    _path, config = write_config(
        output=[bigquery_output(dataset, "typed", "file_loads", schema=TYPED_SCHEMA, temp_file_format="auto")],
        api_config=FROZEN,
    )
    output = PipelineFactory.output_of(config, 0, "run-1")
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        write_items(pipeline, output, [*ROWS, TOO_PRECISE, WRONG_TYPE])
        rejected = output.rejected_rows() | beam.Flatten()
        nothing = pipeline | "Nothing" >> beam.Create([])
        _ = (nothing, nothing, rejected) | WriteDeadLetters("it_items", "run-1", path=str(tmp_path / "dead"))

    table = f"{project}.{dataset}.typed"
    assert read_table(bq, table) == [
        {
            "id": 1,
            "updated_at": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            "day": date(2024, 1, 2),
            "amount": Decimal("12.345678901"),
            "ok": True,
            "score": 0.5,
            "tags": ["a", "b"],
            "user": {"login": "ann", "seen_at": datetime(2024, 1, 1, 22, tzinfo=UTC), "ranks": [3, 1]},
        },
        {
            "id": 2,
            "updated_at": datetime(2024, 1, 2, 6, tzinfo=UTC),
            "day": None,
            "amount": Decimal(7),
            "ok": False,
            "score": None,
            "tags": [],
            "user": None,
        },
    ]
    assert load_jobs(bq, table) == ["AVRO"]
    dead = sorted(
        (json.loads(line) for f in (tmp_path / "dead").glob("*.jsonl") for line in f.read_text().splitlines()),
        key=lambda d: d["error"],
    )
    assert [(d["error_type"], d["destination"], d["error"], d["record"]) for d in dead] == [
        (SCHEMA_MISMATCH, table, "amount: expected a NUMERIC, got '0.1234567891'", TOO_PRECISE),
        (SCHEMA_MISMATCH, table, "id: expected an INTEGER, got 'four'", WRONG_TYPE),
    ]


def test_a_table_that_grows_in_the_run_loads_from_json_files(write_config, dataset, bq, project, beam_args):
    output = bigquery_output(dataset, "typed", "file_loads", schema=TYPED_SCHEMA, temp_file_format="auto")
    _path, config = write_config(output=[output])
    output = PipelineFactory.output_of(config, 0, "run-1")  # schema_contract: evolve, the default
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        write_items(pipeline, output, [{**ROWS[1], "colour": "red"}])

    table = f"{project}.{dataset}.typed"
    assert [(row["id"], row["colour"]) for row in read_table(bq, table)] == [(2, "red")]
    assert load_jobs(bq, table) == ["NEWLINE_DELIMITED_JSON"]


def test_by_default_a_declared_schema_loads_from_json_files(write_config, dataset, bq, project, beam_args):
    output = bigquery_output(dataset, "typed", "file_loads", schema=TYPED_SCHEMA)  # temp_file_format: json
    _path, config = write_config(output=[output], api_config=FROZEN)
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        write_items(pipeline, PipelineFactory.output_of(config, 0, "run-1"), ROWS)

    table = f"{project}.{dataset}.typed"
    assert [(row["id"], row["updated_at"], row["user"]) for row in read_table(bq, table)] == [
        (
            1,
            datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            {"login": "ann", "seen_at": datetime(2024, 1, 1, 22, tzinfo=UTC), "ranks": [3, 1]},
        ),
        (2, datetime(2024, 1, 2, 6, tzinfo=UTC), None),
    ]
    assert load_jobs(bq, table) == ["NEWLINE_DELIMITED_JSON"]


def test_a_merge_stages_the_rows_from_avro_files_and_keeps_the_newest_row_per_key(
    write_config, dataset, bq, project, beam_args
):
    output = bigquery_output(
        dataset, "typed", "file_loads", schema=TYPED_SCHEMA, write_disposition="merge", temp_file_format="avro"
    )
    _path, config = write_config(output=[output], api_config=FROZEN)
    newer = {**ROWS[0], "updated_at": "2024-01-03T00:00:00Z", "tags": ["c"], "user": None}
    for run_id, rows in (("run-1", ROWS), ("run-2", [newer])):
        writer = PipelineFactory.output_of(config, 0, run_id)
        with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
            write_items(pipeline, writer, rows)

    table = f"{project}.{dataset}.typed"
    got = read_table(bq, table, "id, updated_at, day, amount, tags, user")
    assert got == [
        {
            "id": 1,
            "updated_at": datetime(2024, 1, 3, tzinfo=UTC),
            "day": date(2024, 1, 2),
            "amount": Decimal("12.345678901"),
            "tags": ["c"],
            "user": None,
        },
        {
            "id": 2,
            "updated_at": datetime(2024, 1, 2, 6, tzinfo=UTC),
            "day": None,
            "amount": Decimal(7),
            "tags": [],
            "user": None,
        },
    ]
    assert [load_jobs(bq, f"{table}__staging_run_{n}") for n in (1, 2)] == [["AVRO"], ["AVRO"]]
    assert [t.table_id for t in bq.list_tables(dataset)] == ["typed"]  # the staging tables are dropped
