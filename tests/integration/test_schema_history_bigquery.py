"""Schema history in the BigQuery control store and `schema show` over it, against the BigQuery emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config.stores import BigQueryWatermarkStoreConfig
from beam_api_pipeline.control.bigquery import BigQueryWatermarkStore, create_control_tables, missing_table_message
from beam_api_pipeline.control.schema_versions import SchemaVersion
from beam_api_pipeline.control.store import open_store, opened_store
from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.core.errors import ConfigError
from tests.schema_store_cases import (  # noqa: F401 - shared tests, run here with this module's store
    fields,
    test_a_recorded_version_round_trips_exactly,
    test_a_version_is_recorded_only_over_the_latest_one,
    test_versions_count_per_endpoint_and_latest_is_the_newest,
)
from tests.support import items_config, write_yaml

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def store(control_table) -> Iterator[BigQueryWatermarkStore]:
    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as opened:
        yield opened


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


def test_a_control_table_of_the_previous_version_gains_the_schema_table_at_setup(project, dataset, bq):
    from google.cloud import bigquery

    control_table = f"{project}.{dataset}.watermarks"
    bq.create_table(bigquery.Table(control_table, schema=[bigquery.SchemaField("pipeline_id", "STRING")]))
    bq.create_table(bigquery.Table(control_table + "_runs", schema=[bigquery.SchemaField("run_id", "STRING")]))

    with pytest.raises(ConfigError) as missing:
        open_store(BigQueryWatermarkStoreConfig(table=control_table))
    assert missing.value.problems == [missing_table_message(TableName.parse(control_table + "_schema_versions"))]

    assert create_control_tables(control_table) == [
        f"{control_table}_schema_versions",
        f"{control_table}_leases",
        f"{control_table}_validators",
    ]
    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as store:
        assert store.schema_versions("p") == []
    assert bq.get_table(control_table + "_schema_versions").num_rows == 0


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
