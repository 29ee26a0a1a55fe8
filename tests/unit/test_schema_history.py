"""Schema history in the local (SQLite) control store, and `schema show`."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.watermark import local
from beam_api_pipeline.watermark.local import LocalWatermarkStore
from tests.support import items_config, t, write_yaml

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


def fields(*names_and_types: str) -> list[dict[str, str]]:
    """Flat NULLABLE fields from "name TYPE" strings."""
    return [{"name": name, "type": kind, "mode": "NULLABLE"} for name, kind in map(str.split, names_and_types)]


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
    assert (stored.pipeline_id, stored.endpoint, stored.run_id) == ("p", "items", "r1")
    assert stored.fields == NESTED_FIELDS
    assert stored.changes == ["new schema: id INTEGER, ..."]
    assert stored.recorded_at.tzinfo is not None and stored.recorded_at.utcoffset().total_seconds() == 0


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


def test_a_version_is_recorded_only_over_the_latest_one(store):
    assert store.record_schema("p", "items", fields("a INTEGER"), ["new schema: a INTEGER"], "r1", 0).version == 1
    assert store.record_schema("p", "items", fields("b INTEGER"), ["new schema: b INTEGER"], "r2", 0) is None
    assert [v.run_id for v in store.schema_versions("p", "items")] == ["r1"]


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
