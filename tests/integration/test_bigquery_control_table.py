"""The BigQuery control table (watermarks and run records) against the BigQuery emulator."""

from __future__ import annotations

from datetime import datetime

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config.stores import BigQueryWatermarkStoreConfig
from beam_api_pipeline.control.store import open_store, opened_store
from tests.support import t

pytestmark = pytest.mark.timeout(180)


def stored(table: str, endpoint: str = "items") -> datetime | None:
    with opened_store(BigQueryWatermarkStoreConfig(table=table)) as store:
        return store.get_watermark("it_items", endpoint)


def test_the_tables_are_created_with_the_documented_schema(control_table, bq):
    open_store(BigQueryWatermarkStoreConfig(table=control_table)).close()
    watermarks = bq.get_table(control_table)
    runs = bq.get_table(control_table + "_runs")
    assert [(f.name, f.field_type, f.mode) for f in watermarks.schema] == [
        ("pipeline_id", "STRING", "REQUIRED"),
        ("endpoint", "STRING", "REQUIRED"),
        ("watermark", "TIMESTAMP", "REQUIRED"),
        ("updated_at", "TIMESTAMP", "REQUIRED"),
        ("run_id", "STRING", "REQUIRED"),
    ]
    assert [f.name for f in runs.schema] == [
        "run_id", "pipeline_id", "status", "start_time", "end_time", "records_processed", "errors",
        "windows_done", "windows_failed", "job_id", "endpoint_stats", "dead_letter_rows", "service_name",
        "service_version", "note",
    ]  # fmt: skip


def test_success_then_failed_window_then_backfill(sample_api, write_config, tmp_path, control_table, beam_args):
    local = {"type": "local", "config": {"path": str(tmp_path / "out")}}
    path, _config = write_config(output=[local], watermark_store={"type": "bigquery", "table": control_table})

    assert main(["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z", *beam_args]) == 0
    assert stored(control_table) == t("2024-01-04")

    sample_api.set_faults(fail_since=["2024-01-04T00:00:00Z"])
    assert main(["run", "--config", str(path), "--end_time", "2024-01-06T00:00:00Z", *beam_args]) == 1
    assert stored(control_table) == t("2024-01-04")

    sample_api.set_faults(fail_since=[])
    backfill = ["--start_time", "2024-01-02T00:00:00Z", "--end_time", "2024-01-03T00:00:00Z"]
    assert main(["run", "--config", str(path), *backfill, *beam_args]) == 0
    assert stored(control_table) == t("2024-01-04")

    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as store:
        runs = store.list_runs("it_items")
    assert [(r.status, r.windows_done, r.windows_failed, r.records_processed) for r in runs] == [
        ("succeeded", 1, 0, 48),
        ("failed", 1, 1, 48),
        ("succeeded", 2, 0, 96),
    ]
    assert runs[1].errors[0].startswith("items 2024-01-04T00:00:00Z")
    assert (runs[1].dead_letter_rows, runs[1].endpoint_stats["items"]["windows_failed"]) == (1, 1)
    assert runs[0].endpoint_stats["items"]["records"] == 48


def test_a_watermark_never_moves_backwards(control_table):
    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as store:
        store.advance_watermark("it_items", "items", t("2024-01-05"), "run-b")
        store.advance_watermark("it_items", "items", t("2024-01-03"), "run-a")
        store.advance_watermark("it_items", "other", t("2024-01-01"), "run-a")
        assert store.get_watermark("it_items", "items") == t("2024-01-05")
        store.advance_watermark("it_items", "items", t("2024-01-07"), "run-c")
        assert store.get_watermark("it_items", "items") == t("2024-01-07")
        assert store.get_watermark("it_items", "other") == t("2024-01-01")
        assert store.get_watermark("it_items", "missing") is None
