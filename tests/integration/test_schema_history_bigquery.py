"""Schema history in the BigQuery control store and `schema show` over it, against the BigQuery emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config.stores import BigQueryWatermarkStoreConfig
from beam_api_pipeline.watermark.bigquery import BigQueryWatermarkStore
from beam_api_pipeline.watermark.schemas import SchemaVersion
from beam_api_pipeline.watermark.store import open_store
from tests.support import items_config, write_yaml

pytestmark = pytest.mark.timeout(180)

NESTED_FIELDS = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "tags", "type": "STRING", "mode": "REPEATED"},
    {
        "name": "owner",
        "type": "RECORD",
        "mode": "NULLABLE",
        "fields": [
            {"name": "login", "type": "STRING", "mode": "NULLABLE"},
            {
                "name": "addresses",
                "type": "RECORD",
                "mode": "REPEATED",
                "fields": [{"name": "city", "type": "STRING", "mode": "NULLABLE"}],
            },
        ],
    },
]


def fields(*names_and_types: str) -> list[dict[str, str]]:
    """Flat NULLABLE fields from "name TYPE" strings."""
    return [{"name": name, "type": kind, "mode": "NULLABLE"} for name, kind in map(str.split, names_and_types)]


@pytest.fixture
def control_table(project, dataset) -> str:
    return f"{project}.{dataset}.watermarks"


@pytest.fixture
def store(control_table) -> Iterator[BigQueryWatermarkStore]:
    opened = open_store(BigQueryWatermarkStoreConfig(table=control_table))
    yield opened
    opened.close()


def test_the_schema_table_is_created_next_to_the_others(store, control_table, bq):
    table = bq.get_table(control_table + "_schema_versions")
    assert [(f.name, f.field_type, f.mode) for f in table.schema] == [
        ("pipeline_id", "STRING", "REQUIRED"),
        ("endpoint", "STRING", "REQUIRED"),
        ("version", "INTEGER", "REQUIRED"),
        ("fields", "STRING", "REQUIRED"),
        ("changes", "STRING", "REQUIRED"),
        ("run_id", "STRING", "REQUIRED"),
        ("recorded_at", "TIMESTAMP", "REQUIRED"),
    ]


def test_a_control_table_of_the_previous_version_gains_the_schema_table(control_table, bq):
    from google.cloud import bigquery

    bq.create_table(bigquery.Table(control_table, schema=[bigquery.SchemaField("pipeline_id", "STRING")]))
    bq.create_table(bigquery.Table(control_table + "_runs", schema=[bigquery.SchemaField("run_id", "STRING")]))

    store = open_store(BigQueryWatermarkStoreConfig(table=control_table))
    try:
        assert store.schema_versions("p") == []
    finally:
        store.close()
    assert bq.get_table(control_table + "_schema_versions").num_rows == 0


def test_a_version_is_recorded_only_over_the_latest_one(store):
    assert store.record_schema("p", "items", fields("a INTEGER"), ["new schema: a INTEGER"], "r1", 0).version == 1
    assert store.record_schema("p", "items", fields("b INTEGER"), ["new schema: b INTEGER"], "r2", 0) is None
    assert [v.run_id for v in store.schema_versions("p", "items")] == ["r1"]


def test_versions_count_per_endpoint_and_latest_is_the_newest(store):
    first = store.record_schema("p", "items", fields("a INTEGER"), ["new schema: a INTEGER"], "r1", 0)
    other = store.record_schema("p", "orders", fields("x STRING"), ["new schema: x STRING"], "r1", 0)
    second = store.record_schema("p", "items", fields("a INTEGER", "b STRING"), ["added b STRING"], "r2", 1)
    store.record_schema("q", "items", fields("z DATE"), ["new schema: z DATE"], "r3", 0)

    assert (first.version, other.version, second.version) == (1, 1, 2)
    assert store.latest_schema("p", "items") == second
    assert store.latest_schema("p", "missing") is None
    assert [(v.endpoint, v.version) for v in store.schema_versions("p")] == [("items", 1), ("items", 2), ("orders", 1)]
    assert store.schema_versions("p", "items") == [first, second]
    assert store.schema_versions("p", "missing") == []


def test_a_recorded_version_round_trips_exactly(store):
    recorded = store.record_schema("p", "items", NESTED_FIELDS, ["new schema: id INTEGER, ..."], "r1", 0)
    [stored] = store.schema_versions("p", "items")
    assert stored == recorded
    assert (stored.pipeline_id, stored.endpoint, stored.version, stored.run_id) == ("p", "items", 1, "r1")
    assert stored.fields == NESTED_FIELDS
    assert stored.changes == ["new schema: id INTEGER, ..."]
    assert stored.recorded_at.utcoffset().total_seconds() == 0


def heading(version: SchemaVersion) -> str:
    """The line `schema show` heads `version` with (the emulator's clock is not the test's to set)."""
    return f"{version.endpoint} v{version.version}  {version.recorded_at:%Y-%m-%dT%H:%M:%SZ}  run {version.run_id}"


def test_schema_show_reads_the_bigquery_store(store, control_table, tmp_path: Path, capsys):
    endpoints = {"orders": {"path": "/orders", "records_path": "orders", "primary_key": "id"}}
    config = items_config(
        "http://127.0.0.1:9",
        tmp_path,
        api_config={"endpoints": endpoints},
        watermark_store={"type": "bigquery", "table": control_table},
    )
    path = write_yaml(tmp_path / "p.yaml", config)
    first = store.record_schema("sample_items", "orders", fields("id INTEGER"), ["new schema: id INTEGER"], "r1", 0)
    changed = ["added c INTEGER", "b: INTEGER → STRING"]
    second = store.record_schema("sample_items", "orders", fields("id INTEGER", "c INTEGER"), changed, "r2", 1)

    assert main(["schema", "show", "--config", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "items: no schema recorded yet",
        heading(first),
        "  new schema: id INTEGER",
        heading(second),
        "  added c INTEGER",
        "  b: INTEGER → STRING",
    ]

    assert main(["schema", "show", "--config", str(path), "--endpoint", "items"]) == 0
    assert capsys.readouterr().out.splitlines() == ["items: no schema recorded yet"]

    assert main(["schema", "show", "--config", str(path), "--endpoint", "itemz"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "--endpoint: 'itemz' is not an endpoint of sample_items (items, orders)"
    ]
