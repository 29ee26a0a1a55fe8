"""schema_contract: what does not fit a schema, and what each contract does with it."""

from __future__ import annotations

import copy

import pytest

from beam_api_pipeline.schemas.contract import ContractOutcome, HeldSchema, apply_contract

FIELDS = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "value", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "score", "type": "FLOAT", "mode": "NULLABLE"},
    {"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "tags", "type": "STRING", "mode": "REPEATED"},
    {
        "name": "user",
        "type": "RECORD",
        "mode": "NULLABLE",
        "fields": [{"name": "login", "type": "STRING", "mode": "NULLABLE"}],
    },
    {
        "name": "labels",
        "type": "RECORD",
        "mode": "REPEATED",
        "fields": [{"name": "name", "type": "STRING", "mode": "NULLABLE"}],
    },
    {"name": "extra", "type": "JSON", "mode": "NULLABLE"},
]
HELD = HeldSchema(FIELDS)
FITS = {
    "id": 1,
    "value": "12",  # BigQuery takes digits as an INTEGER
    "score": 3,  # an INTEGER in a FLOAT column
    "updated_at": "2024-01-02T00:00:00Z",
    "tags": ["a"],
    "user": {"login": "x"},
    "labels": [{"name": "bug"}],
    "extra": {"any": ["thing"]},
}


def _lines(row) -> list[str]:
    return [str(difference) for difference in HELD.differences(row)]


def test_a_row_that_fits_has_no_difference_and_nulls_and_empty_lists_fit():
    assert _lines(FITS) == []
    assert _lines({"id": 1, "value": None, "tags": [], "user": None, "new": None, "more": []}) == []


def test_each_kind_of_difference_is_named_with_its_path_the_expected_and_the_seen_type():
    row = {
        "value": "v1",
        "score": True,
        "c": 3,
        "tags": "a",
        "user": {"login": "x", "email": "e"},
        "labels": [{"name": 5}, {"name": "ok", "color": "red"}],
        "list": [1],
    }
    assert _lines(row) == [
        "value: expected INTEGER, seen STRING ('v1')",
        "score: expected FLOAT, seen BOOLEAN (True)",
        "c: new field (INTEGER)",
        "tags: expected STRING REPEATED, seen STRING ('a')",
        "user.email: new field (STRING)",
        "labels.color: new field (STRING)",
        "list: new field (REPEATED)",
        "id: required, missing",
    ]
    assert _lines({"id": 1, "user": "text", "value": [1]}) == [
        "user: expected RECORD, seen STRING ('text')",
        "value: expected INTEGER, seen REPEATED ([1])",
    ]


@pytest.mark.parametrize("contract", ["evolve", "freeze", "discard_row", "discard_value"])
def test_a_row_that_fits_is_written_as_it_is_under_every_contract(contract):
    assert HELD.fits_by_shape(FITS) is False  # digits as text for INTEGER: its values are looked at
    assert apply_contract(contract, HELD, FITS) is None


def test_evolve_welcomes_new_fields_and_empty_required_ones_and_refuses_another_type():
    new = {**FITS, "c": 1, "user": {"login": "x", "email": "e"}}
    assert apply_contract("evolve", HELD, new) is None
    assert apply_contract("evolve", HELD, {**FITS, "id": None}) is None
    refused = apply_contract("evolve", HELD, {**FITS, "c": 1, "value": "v1"})
    assert refused == ContractOutcome(None, "schema_contract evolve: value: expected INTEGER, seen STRING ('v1')")


@pytest.mark.parametrize("contract", ["freeze", "discard_row"])
def test_freeze_and_discard_row_refuse_any_difference(contract):
    assert apply_contract(contract, HELD, {**FITS, "c": 1}) == ContractOutcome(
        None, f"schema_contract {contract}: c: new field (INTEGER)"
    )
    assert apply_contract(contract, HELD, {**FITS, "id": None}) == ContractOutcome(
        None, f"schema_contract {contract}: id: required, missing"
    )


def test_discard_value_leaves_out_new_fields_and_nulls_values_of_another_type_without_touching_the_row():
    row = {
        **FITS,
        "value": "v1",
        "c": 1,
        "user": {"login": "x", "email": "e"},
        "labels": [{"name": "a", "color": "red"}, {"name": "b"}],
    }
    before = copy.deepcopy(row)
    outcome = apply_contract("discard_value", HELD, row)
    assert outcome == ContractOutcome(
        {**FITS, "value": None, "user": {"login": "x"}, "labels": [{"name": "a"}, {"name": "b"}]}, values_discarded=4
    )
    assert row == before  # the element is never changed


def test_discard_value_sends_a_row_with_an_empty_required_field_to_the_dead_letter():
    outcome = apply_contract("discard_value", HELD, {**FITS, "id": None, "c": 1})
    assert outcome == ContractOutcome(
        None, "schema_contract discard_value: c: new field (INTEGER); id: required, missing"
    )


def test_a_row_that_is_not_an_object_is_left_to_the_sinks():
    assert apply_contract("freeze", HELD, [1, 2]) is None


@pytest.mark.parametrize("python_value", [1, 1.5, True, "text", "12", {"a": 1}, [1]])
@pytest.mark.parametrize(
    "kind", ["INTEGER", "FLOAT", "NUMERIC", "BOOLEAN", "STRING", "TIMESTAMP", "DATE", "BYTES", "JSON", "INTERVAL"]
)
def test_a_row_fits_by_its_shape_only_when_its_values_would_fit_one_by_one(kind, python_value):
    held = HeldSchema([{"name": "x", "type": kind, "mode": "NULLABLE"}])
    row = {"x": python_value}
    if held.fits_by_shape(row):
        assert held.differences(row) == []
