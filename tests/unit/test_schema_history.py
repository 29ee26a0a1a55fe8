"""Schema history in the local (SQLite) control store, and `schema show`."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.control import local
from beam_api_pipeline.control.local import LocalWatermarkStore
from tests.schema_store_cases import (  # noqa: F401 - shared tests, run here with this module's store
    fields,
    test_a_recorded_version_round_trips_exactly,
    test_a_version_is_recorded_only_over_the_latest_one,
    test_versions_count_per_endpoint_and_latest_is_the_newest,
)
from tests.support import items_config, t, write_yaml

#: The control store tables before schema history (a database written by the previous version).
PREVIOUS_SCHEMA = """
CREATE TABLE watermarks (
    pipeline_id TEXT NOT NULL, endpoint TEXT NOT NULL, watermark TEXT NOT NULL, updated_at TEXT NOT NULL,
    run_id TEXT NOT NULL, PRIMARY KEY (pipeline_id, endpoint)
);
CREATE TABLE pipeline_runs (
    run_id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL, status TEXT NOT NULL, start_time TEXT NOT NULL,
    end_time TEXT, records_processed INTEGER NOT NULL, errors TEXT NOT NULL, windows_done INTEGER NOT NULL,
    windows_failed INTEGER NOT NULL, job_id TEXT, endpoint_stats TEXT NOT NULL DEFAULT '{}',
    dead_letter_rows INTEGER NOT NULL DEFAULT 0, service_name TEXT, service_version TEXT
);
INSERT INTO watermarks VALUES ('p', 'items', '2024-01-04T00:00:00.000000Z', '2024-01-04T00:00:00.000000Z', 'r0');
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalWatermarkStore]:
    opened = LocalWatermarkStore(tmp_path / "c.db")
    yield opened
    opened.close()


class FixedClock(datetime):
    """`datetime` whose `now()` gives the times of `moments`, one per call."""

    moments: Iterator[datetime] = iter(())

    @classmethod
    def now(cls, tz=None) -> datetime:
        return next(cls.moments)


def test_a_database_of_the_previous_version_gains_the_table_when_opened(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript(PREVIOUS_SCHEMA)
    old.close()

    store = LocalWatermarkStore(path)
    try:
        assert store.get_watermark("p", "items") == t("2024-01-04")
        assert store.schema_versions("p") == []
        assert store.record_schema("p", "items", fields("a INTEGER"), ["new schema: a INTEGER"], "r1", 0).version == 1
    finally:
        store.close()


def test_two_processes_recording_at_once_never_take_the_same_version(tmp_path):
    path = tmp_path / "c.db"
    LocalWatermarkStore(path).close()
    start = threading.Barrier(2)

    def record_twenty(writer: str) -> None:
        store = LocalWatermarkStore(path)  # a connection of its own, as another process would have
        try:
            start.wait()
            for number in range(20):
                recorded = None
                while recorded is None:  # the other writer moved the latest version on: read it again
                    latest = store.latest_schema("p", "items")
                    expected = latest.version if latest is not None else 0
                    recorded = store.record_schema(
                        "p", "items", fields("a INTEGER"), [f"{writer} {number}"], writer, expected
                    )
        finally:
            store.close()

    threads = [threading.Thread(target=record_twenty, args=(writer,)) for writer in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    store = LocalWatermarkStore(path)
    try:
        versions = store.schema_versions("p", "items")
    finally:
        store.close()
    assert [v.version for v in versions] == list(range(1, 41))
    assert sorted(v.run_id for v in versions) == ["w1"] * 20 + ["w2"] * 20


@pytest.fixture
def two_endpoint_config(tmp_path: Path, monkeypatch) -> Path:
    """A config with endpoints `items` and `orders`, each with two schema versions in its local store."""
    endpoints = {"orders": {"path": "/orders", "records_path": "orders", "primary_key": "id"}}
    config = items_config("http://127.0.0.1:9", tmp_path, api_config={"endpoints": endpoints})
    monkeypatch.setattr(FixedClock, "moments", iter([t("2026-12-02T17:00:00.250"), t("2026-12-02T17:05:00")]))
    monkeypatch.setattr(local, "datetime", FixedClock)
    store = LocalWatermarkStore(tmp_path / "state" / "control.db")
    try:
        store.record_schema(
            "sample_items", "orders", fields("id INTEGER"), ["new schema: id INTEGER"], "20261202T170000Z-ab12cd34", 0
        )
        store.record_schema(
            "sample_items",
            "orders",
            fields("id INTEGER", "c INTEGER"),
            ["added c INTEGER"],
            "20261202T170500Z-ef56ab78",
            1,
        )
    finally:
        store.close()
    return write_yaml(tmp_path / "p.yaml", config)


def schema_show(capsys, *args: str) -> tuple[int, list[str], str]:
    code = main(["schema", "show", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_schema_show_prints_each_endpoints_versions_oldest_first(two_endpoint_config, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        FixedClock, "moments", iter([t("2026-12-02T17:00:00"), t("2026-12-02T17:05:00"), t("2026-12-02T17:10:00")])
    )
    store = LocalWatermarkStore(tmp_path / "state" / "control.db")
    try:
        new_items = "new schema: id INTEGER, updated_at TIMESTAMP, title STRING, value INTEGER"
        store.record_schema("sample_items", "items", fields("id INTEGER"), [new_items], "20261202T170000Z-ab12cd34", 0)
        changed = ["added c INTEGER", "b: INTEGER → STRING"]
        store.record_schema("sample_items", "items", fields("id INTEGER"), changed, "20261202T170500Z-ef56ab78", 1)
        store.record_schema("other_pipeline", "items", fields("id INTEGER"), ["new schema: id INTEGER"], "r9", 0)
    finally:
        store.close()

    assert schema_show(capsys, "--config", str(two_endpoint_config)) == (
        0,
        [
            "items v1  2026-12-02T17:00:00Z  run 20261202T170000Z-ab12cd34",
            f"  {new_items}",
            "items v2  2026-12-02T17:05:00Z  run 20261202T170500Z-ef56ab78",
            "  added c INTEGER",
            "  b: INTEGER → STRING",
            "orders v1  2026-12-02T17:00:00Z  run 20261202T170000Z-ab12cd34",
            "  new schema: id INTEGER",
            "orders v2  2026-12-02T17:05:00Z  run 20261202T170500Z-ef56ab78",
            "  added c INTEGER",
        ],
        "",
    )


def test_schema_show_of_one_endpoint(two_endpoint_config, capsys):
    assert schema_show(capsys, "--config", str(two_endpoint_config), "--endpoint", "orders") == (
        0,
        [
            "orders v1  2026-12-02T17:00:00Z  run 20261202T170000Z-ab12cd34",
            "  new schema: id INTEGER",
            "orders v2  2026-12-02T17:05:00Z  run 20261202T170500Z-ef56ab78",
            "  added c INTEGER",
        ],
        "",
    )


def test_schema_show_says_when_an_endpoint_has_no_schema_yet(two_endpoint_config, capsys):
    code, lines, _err = schema_show(capsys, "--config", str(two_endpoint_config))
    assert (code, lines[0], lines[1]) == (
        0,
        "items: no schema recorded yet",
        "orders v1  2026-12-02T17:00:00Z  run 20261202T170000Z-ab12cd34",
    )
    assert schema_show(capsys, "--config", str(two_endpoint_config), "--endpoint", "items") == (
        0,
        ["items: no schema recorded yet"],
        "",
    )


def test_schema_show_of_an_unknown_endpoint_is_a_usage_error(two_endpoint_config, capsys):
    code, lines, err = schema_show(capsys, "--config", str(two_endpoint_config), "--endpoint", "itemz")
    assert (code, lines) == (2, [])
    assert err.splitlines() == ["--endpoint: 'itemz' is not an endpoint of sample_items (items, orders)"]
