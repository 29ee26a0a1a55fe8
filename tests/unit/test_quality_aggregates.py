"""The parts CheckQuality judges windows with instead of grouping their rows (issue 31): record checks as compiled
functions (the same reasons as `record_failure`), the keys and hashes of `unique` values, the combine that finds
duplicated hashes, the per-window counts and how a warn-only `unique` check counts its failures per window."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from beam_api_pipeline.config import QualityCheckConfig
from beam_api_pipeline.records.quality import (
    _candidates,
    _CountDuplicatesFn,
    _DuplicateHashesFn,
    _WindowCountsFn,
)
from beam_api_pipeline.records.quality_rules import key_hash, record_checker, record_failure, unique_key, value_key

CHECKS = [
    {"check": "not_null", "field": "v"},
    {"check": "accepted_values", "field": "v", "values": ["open", 1, True, 2.5, {"a": 1}]},
    {"check": "range", "field": "v", "min": 0, "max": 10},
    {"check": "range", "field": "v", "max": 10},
    {"check": "regex", "field": "v", "pattern": "^ht+p"},
    {"check": "not_null", "field": "u.v"},
    {"check": "accepted_values", "field": "u.v", "values": ["open"]},
]
VALUES = ["open", "closed", "", "http", "htp://x", 0, 1, 1.0, -1, 11, 10, 2.5, True, False, None, math.nan, 2**70]
VALUES += [[1], {"a": 1}, {"a": 2}]


@pytest.mark.parametrize("config", CHECKS, ids=lambda c: f"{c['check']}-{c['field']}")
def test_a_compiled_record_check_gives_record_failures_reason_for_every_value(config):
    check = QualityCheckConfig(**config)
    checker = record_checker(check, re.compile(check.pattern) if check.pattern else None)
    rows: list[Any] = [{"v": value, "u": {"v": value}} for value in VALUES] + [{}, {"u": None}, "text", 5]
    assert [checker(row) for row in rows] == [record_failure(check, row) for row in rows]


def test_value_keys_are_equal_exactly_when_unique_keys_are():
    values = [1, 1.0, True, "1", 2**63 - 1, 2**63, -(2**63), {"a": 1, "b": 2}, {"b": 2, "a": 1}, [1, 2], None]
    for first in values:
        for second in values:
            same = unique_key({"v": first}, "v") == unique_key({"v": second}, "v")
            assert (value_key(first) == value_key(second)) == same, (first, second)
    assert (value_key(7), value_key(True), value_key(2**70), value_key(None)) == (
        7,
        b"true",
        b"1180591620717411303424",
        None,
    )


def test_a_key_hash_is_an_integer_key_itself_and_64_bits_of_blake2b_else():
    assert key_hash(value_key(12345)) == 12345
    assert key_hash(value_key(-(2**63))) == -(2**63)
    assert key_hash(value_key("abc")) == 796086730845623605
    assert key_hash(value_key(1.0)) == 4786086276877044158


def combined(fn, *inputs_by_bundle: list) -> Any:
    """`fn` as a runner may run it: each bundle's inputs added to an accumulator of its own, then merged."""
    accumulators = []
    for inputs in inputs_by_bundle:
        accumulator = fn.create_accumulator()
        for value in inputs:
            accumulator = fn.add_input(accumulator, value)
        accumulators.append(accumulator)
    return fn.extract_output(fn.merge_accumulators(accumulators))


def test_the_duplicated_hashes_are_those_seen_twice_or_more_across_bundles():
    found = combined(
        _DuplicateHashesFn(),
        [[1, 2, None, 3], [b'"x"', 4]],
        [[2, None], [5, 6, 2]],
        [[b'"x"', 7, 1], []],
    )
    assert found == sorted([1, 2, key_hash(b'"x"')])
    assert combined(_DuplicateHashesFn(), []) == []


def test_candidates_are_the_keys_whose_hash_is_duplicated_less_those_removed():
    keys = [1, None, b'"x"', 2, 1, b'"y"']
    duplicates = frozenset([1, key_hash(b'"x"')])
    assert _candidates(keys, duplicates) == [0, 2, 4]
    assert _candidates(keys, duplicates, removed=[0]) == [2, 4]
    assert _candidates(keys, frozenset()) == []


def test_window_counts_add_up_and_keep_the_least_first_failure_however_a_coder_gave_it_back():
    first = [0, {0: [2, None], 3: [1, (((0, 5, ""), b'{"id":5}'), "range id: 5 > max 4")]}]
    second = [10, {3: [2, [[[0, 9, ""], b'{"id":9}'], "range id: 9 > max 4"]]}]
    third = [4, {3: [1, (((0, 2, ""), b'{"id":2}'), "range id: 2 > max 1")], 1: [4, None]}]
    assert combined(_WindowCountsFn(), [first, second], [third]) == [
        14,
        {0: [2, None], 3: [4, (((0, 2, ""), b'{"id":2}'), "range id: 2 > max 1")], 1: [4, None]},
    ]


JAN_2 = ("items", "2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00", 0, None)
JAN_3 = ("items", "2024-01-03T00:00:00+00:00", "2024-01-04T00:00:00+00:00", 0, None)
CHILD_A = ("comments", "2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00", 0, "7")
CHILD_B = ("comments", "2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00", 0, "10")


@pytest.mark.parametrize(
    ("tasks", "failures"),
    [
        ([JAN_3, JAN_2], {JAN_3: 1}),  # the row of the earliest window is kept
        ([JAN_3, JAN_2, JAN_3, JAN_2], {JAN_3: 2, JAN_2: 1}),
        ([JAN_2, JAN_2], {JAN_2: 1}),  # two in one window: one fails
        ([CHILD_A, CHILD_B], {CHILD_A: 1}),  # the same window: by the parent's key text, "10" < "7"
        ([JAN_2], {}),  # a hash shared with another value: one row of this one, no failure
    ],
)
def test_a_counted_unique_check_fails_every_row_but_the_one_kept_order_keeps(tasks, failures):
    out = list(_CountDuplicatesFn(4).process((7, tasks)))
    assert dict(out) == {task: [0, {4: [count, None]}] for task, count in failures.items()}
