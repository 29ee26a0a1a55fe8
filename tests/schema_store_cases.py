"""The schema-history behaviours every control store must show, for the tests of each store: a test module
imports these tests and gives them its own `store` fixture."""

from __future__ import annotations

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
    assert stored.recorded_at.tzinfo is not None and stored.recorded_at.utcoffset().total_seconds() == 0


def test_a_version_is_recorded_only_over_the_latest_one(store):
    assert store.record_schema("p", "items", fields("a INTEGER"), ["new schema: a INTEGER"], "r1", 0).version == 1
    assert store.record_schema("p", "items", fields("b INTEGER"), ["new schema: b INTEGER"], "r2", 0) is None
    assert [v.run_id for v in store.schema_versions("p", "items")] == ["r1"]
