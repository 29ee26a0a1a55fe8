"""Schema inference from JSON rows, the widening merge (commutative, associative, pure), changes and text."""

from __future__ import annotations

import copy
import random
from functools import reduce
from typing import Any

import pytest

from beam_api_pipeline.schemas.bigquery_schema import normalize_fields, row_problems
from beam_api_pipeline.schemas.infer import (
    Fields,
    describe_fields,
    extended_fields,
    infer_fields,
    merge_fields,
    observed_fields,
    schema_changes,
)


def field(name: str, kind: str, mode: str = "NULLABLE", fields: Fields | None = None) -> dict[str, Any]:
    return {"name": name, "type": kind, "mode": mode} | ({"fields": fields} if fields is not None else {})


def canonical(fields: Fields) -> list[tuple]:
    """`fields` compared without their order, at any depth."""
    return sorted(
        (item["name"], item["type"], item["mode"], tuple(canonical(item.get("fields", [])))) for item in fields
    )


def test_flat_rows_in_the_order_names_are_first_seen():
    rows = [{"id": 1, "title": "a"}, "not a row", {"id": 2, "score": 1.5, "open": True, "title": "b"}]
    assert infer_fields(rows) == [
        field("id", "INTEGER"),
        field("title", "STRING"),
        field("score", "FLOAT"),
        field("open", "BOOLEAN"),
    ]


def test_a_record_in_a_record_merges_the_fields_seen_in_every_row():
    rows = [
        {"user": {"login": "a", "address": {"city": "X"}}},
        {"user": {"id": 7, "address": {"zip": 123}}},
    ]
    address = field("address", "RECORD", fields=[field("city", "STRING"), field("zip", "INTEGER")])
    assert infer_fields(rows) == [
        field("user", "RECORD", fields=[field("login", "STRING"), address, field("id", "INTEGER")])
    ]


def test_lists_are_repeated_of_their_items_type():
    rows = [{"tags": ["a", "b"], "scores": [1, 2.5], "none": [None], "empty": []}, {"empty": [], "tags": []}]
    assert infer_fields(rows) == [
        field("tags", "STRING", "REPEATED"),
        field("scores", "FLOAT", "REPEATED"),
        field("none", "STRING", "REPEATED"),
        field("empty", "STRING", "REPEATED"),
    ]


def test_a_list_of_objects_is_a_repeated_record():
    rows = [{"comments": [{"id": 1}, {"id": 2, "body": "x"}]}, {"comments": [{"body": None, "likes": [3]}]}]
    comment_fields = [field("id", "INTEGER"), field("body", "STRING"), field("likes", "INTEGER", "REPEATED")]
    assert infer_fields(rows) == [field("comments", "RECORD", "REPEATED", comment_fields)]


def test_nulls_and_empty_lists_say_nothing_about_the_type():
    rows = [{"a": None, "b": [], "c": None, "d": {}}, {"a": 5, "b": [True], "c": None, "d": None}, {"a": None}]
    assert infer_fields(rows) == [
        field("a", "INTEGER"),
        field("b", "BOOLEAN", "REPEATED"),
        field("c", "STRING"),
        field("d", "JSON"),
    ]


def test_timestamp_columns_at_the_top_and_nested():
    rows = [
        {"updated_at": "2024-01-02T00:00:00Z", "meta": {"updated_at": 1704153600, "seen": True}, "other": "x"},
        {"updated_at": None, "meta": {"updated_at": "2024-01-02T00:00:00Z"}},
    ]
    assert infer_fields(rows, frozenset({"updated_at", "meta.updated_at", "meta.seen"})) == [
        field("updated_at", "TIMESTAMP"),
        field("meta", "RECORD", fields=[field("updated_at", "TIMESTAMP"), field("seen", "BOOLEAN")]),
        field("other", "STRING"),
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2.5], field("x", "FLOAT")),
        ([1, "a"], field("x", "STRING")),
        ([True, 1.5], field("x", "STRING")),
        ([{"a": 1}, 2], field("x", "JSON")),
        ([[1], 2], field("x", "JSON")),
        ([[{"a": 1}], ["b"]], field("x", "JSON")),
        ([[[1, 2]]], field("x", "JSON")),
    ],
)
def test_values_of_two_types_widen_whatever_their_order(values, expected):
    assert infer_fields({"x": value} for value in values) == [expected]
    assert infer_fields({"x": value} for value in reversed(values)) == [expected]


def test_a_timestamp_seen_as_a_boolean_too_is_a_string():
    assert infer_fields([{"t": "2024-01-01"}, {"t": False}], frozenset({"t"})) == [field("t", "STRING")]


def test_inferring_a_nested_record_gives_the_declared_schema():
    declared = normalize_fields(
        [
            {"name": "id", "type": "INT64"},
            {
                "name": "user",
                "type": "STRUCT",
                "fields": [
                    {"name": "login", "type": "string"},
                    {"name": "site", "type": "RECORD", "fields": [{"name": "admin", "type": "BOOL"}]},
                ],
            },
            {"name": "labels", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "name", "type": "STRING"}]},
            {"name": "closed_at", "type": "TIMESTAMP"},
        ],
        "schema",
    )
    row = {
        "id": 1,
        "user": {"login": "a", "site": {"admin": False}},
        "labels": [{"name": "bug"}],
        "closed_at": "2024-01-01T00:00:00Z",
    }
    assert infer_fields([row], frozenset({"closed_at"})) == declared
    assert row_problems(row, declared) == []


SCHEMAS = [
    [field("id", "INTEGER", "REQUIRED"), field("tags", "STRING", "REPEATED"), field("t", "TIMESTAMP")],
    [field("id", "FLOAT"), field("user", "RECORD", fields=[field("login", "STRING", "REQUIRED")])],
    [field("t", "STRING"), field("user", "RECORD", fields=[field("id", "INTEGER")]), field("tags", "STRING")],
    [field("user", "INTEGER"), field("id", "INTEGER", "REQUIRED"), field("payload", "JSON")],
    [
        field("user", "RECORD", fields=[field("login", "STRING")]),
        field("payload", "RECORD", fields=[field("a", "BOOLEAN")]),
    ],
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(9 if depth < 2 else 6)
    if choice < 6:
        return [None, True, 3, 2.5, "s", "2024-01-01"][choice]
    if choice == 6:
        return {rng.choice("abc"): random_value(rng, depth + 1) for _ in range(rng.randrange(3))}
    if choice == 7:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return []


def random_schema(rng: random.Random) -> Fields:
    rows = [{rng.choice("pqrs"): random_value(rng) for _ in range(3)} for _ in range(rng.randrange(1, 4))]
    return infer_fields(rows, frozenset({"p", "q.a"}))


def test_merge_is_commutative_and_associative_over_declared_schemas():
    for a in SCHEMAS:
        for b in SCHEMAS:
            assert canonical(merge_fields(a, b)) == canonical(merge_fields(b, a))
            for c in SCHEMAS:
                assert merge_fields(merge_fields(a, b), c) == merge_fields(a, merge_fields(b, c))


@pytest.mark.parametrize("seed", range(20))
def test_merge_is_commutative_and_associative_over_random_inferred_schemas(seed):
    rng = random.Random(seed)
    for _ in range(30):
        a, b, c = random_schema(rng), random_schema(rng), random_schema(rng)
        assert canonical(merge_fields(a, b)) == canonical(merge_fields(b, a))
        assert merge_fields(merge_fields(a, b), c) == merge_fields(a, merge_fields(b, c))


@pytest.mark.parametrize("seed", range(20))
def test_inference_does_not_depend_on_the_order_of_rows(seed):
    rng = random.Random(seed)
    rows = [{rng.choice("pqrs"): random_value(rng) for _ in range(3)} for _ in range(8)]
    shuffled = rng.sample(rows, len(rows))
    timestamps = frozenset({"p", "q.a"})
    assert canonical(infer_fields(shuffled, timestamps)) == canonical(infer_fields(rows, timestamps))


def test_merge_widens_types_and_relaxes_modes():
    base = [field("id", "INTEGER", "REQUIRED"), field("n", "INTEGER"), field("t", "TIMESTAMP"), field("k", "STRING")]
    other = [
        field("n", "FLOAT"),
        field("id", "INTEGER", "NULLABLE"),
        field("t", "STRING"),
        field("k", "RECORD", fields=[field("a", "STRING")]),
        field("new", "INTEGER", "REPEATED"),
    ]
    assert merge_fields(base, other) == [
        field("id", "INTEGER"),
        field("n", "FLOAT"),
        field("t", "STRING"),
        field("k", "JSON"),
        field("new", "INTEGER", "REPEATED"),
    ]


def test_merge_of_repeated_and_not_is_json_and_records_merge_their_fields():
    base = [field("tags", "STRING", "REPEATED"), field("u", "RECORD", fields=[field("a", "INTEGER", "REQUIRED")])]
    other = [field("tags", "STRING"), field("u", "RECORD", fields=[field("b", "STRING")])]
    assert merge_fields(base, other) == [
        field("tags", "JSON"),
        field("u", "RECORD", fields=[field("a", "INTEGER", "REQUIRED"), field("b", "STRING")]),
    ]


def test_a_field_missing_from_one_schema_keeps_its_mode():
    required = [field("id", "INTEGER", "REQUIRED")]
    assert merge_fields(required, []) == required
    assert merge_fields([], required) == required


def test_merge_keeps_descriptions():
    described = [{"name": "id", "type": "INTEGER", "mode": "NULLABLE", "description": "the key"}]
    assert merge_fields(described, [field("id", "FLOAT")]) == [described[0] | {"type": "FLOAT"}]


def test_merge_does_not_mutate_or_share_its_inputs():
    for a in SCHEMAS:
        for b in SCHEMAS:
            before = copy.deepcopy((a, b))
            merged = merge_fields(a, b)
            assert (a, b) == before
            merged[0]["name"] = "changed"
            for item in merged:
                item.get("fields", [{}])[0]["name"] = "changed"
            assert (a, b) == before


def test_inferring_in_parts_and_merging_equals_inferring_all_rows():
    parts = [[{"id": 1, "tags": ["a"]}], [{"id": 2.5, "user": {"login": "x"}}], [{"user": {"id": 3}, "id": 4}]]
    merged = reduce(merge_fields, (infer_fields(part) for part in parts), [])
    assert merged == infer_fields(row for part in parts for row in part)


def test_schema_changes_one_line_per_change():
    before = [
        field("a", "INTEGER"),
        field("b", "INTEGER"),
        field("x", "STRING", "REQUIRED"),
        field("user", "RECORD", fields=[field("login", "STRING"), field("gone", "BOOLEAN")]),
        field("old", "STRING"),
    ]
    after = [
        field("a", "INTEGER"),
        field("b", "STRING"),
        field("x", "STRING"),
        field("user", "RECORD", fields=[field("login", "STRING"), field("email", "STRING")]),
        field("c", "INTEGER"),
        field("tags", "STRING", "REPEATED"),
        field("meta", "RECORD", fields=[field("n", "FLOAT")]),
        field("y", "RECORD", "REPEATED", fields=[field("n", "FLOAT")]),
    ]
    assert schema_changes(before, after) == [
        "b: INTEGER → STRING",
        "x: REQUIRED → NULLABLE",
        "added user.email STRING",
        "missing user.gone",
        "added c INTEGER",
        "added tags STRING REPEATED",
        "added meta RECORD<n FLOAT>",
        "added y RECORD<n FLOAT> REPEATED",
        "missing old",
    ]


def test_schema_changes_from_a_repeated_record_to_json():
    before = [field("tags", "RECORD", "REPEATED", fields=[field("n", "STRING")])]
    assert schema_changes(before, [field("tags", "JSON")]) == ["tags: RECORD → JSON", "tags: REPEATED → NULLABLE"]


def test_schema_changes_without_a_schema_before_or_without_a_change():
    after = [field("id", "INTEGER"), field("user", "RECORD", fields=[field("login", "STRING")])]
    assert schema_changes(None, after) == ["new schema: id INTEGER, user RECORD<login STRING>"]
    assert schema_changes(after, copy.deepcopy(after)) == []


def test_describe_fields():
    fields = [
        field("id", "INTEGER", "REQUIRED"),
        field("title", "STRING"),
        field("user", "RECORD", fields=[field("login", "STRING"), field("id", "INTEGER")]),
        field("tags", "STRING", "REPEATED"),
        field(
            "labels",
            "RECORD",
            "REPEATED",
            [field("name", "STRING"), field("at", "RECORD", fields=[field("t", "TIMESTAMP")])],
        ),
    ]
    assert describe_fields(fields) == (
        "id INTEGER REQUIRED, title STRING, user RECORD<login STRING, id INTEGER>, tags STRING REPEATED, "
        "labels RECORD<name STRING, at RECORD<t TIMESTAMP>> REPEATED"
    )


def test_extending_a_recorded_schema_adds_new_columns_and_keeps_recorded_types():
    recorded = [field("id", "INTEGER"), field("user", "RECORD", fields=[field("login", "STRING")])]
    observed = observed_fields(
        [
            {"id": "12", "user": {"login": "x", "email": "e"}, "c": 1, "never": None, "empty": []},
            {"id": 3, "user": {"login": "y", "age": None}, "c": None},
        ]
    )
    extended = extended_fields(recorded, observed)
    assert extended == [
        field("id", "INTEGER"),  # digits as text were taken by the INTEGER column: no widening
        field(
            "user", "RECORD", fields=[field("login", "STRING"), field("email", "STRING")]
        ),  # `age` was never seen with a value
        field("c", "INTEGER"),
    ]
    assert schema_changes(recorded, extended) == ["added user.email STRING", "added c INTEGER"]
    assert extended_fields([], observed_fields([{"a": None}, {"b": 1}])) == [field("b", "INTEGER")]
