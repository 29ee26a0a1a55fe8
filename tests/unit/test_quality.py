"""Unit tests of data quality checks: the pure check functions, the order `unique` keeps rows in, counter names and
outcomes, and the configuration's one-line errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from beam_api_pipeline.config import QualityCheckConfig, load_pipeline_config
from beam_api_pipeline.config.api import METADATA_COLUMNS, TransformConfig
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.plan.run_plan import RunPlan
from beam_api_pipeline.records.quality_rules import (
    QualityOutcome,
    counter_name,
    freshness_failure,
    judges_freshness,
    kept_order,
    quality_outcomes,
    record_failure,
    record_failures,
    row_count_failure,
    unique_key,
    value_text,
    window_check_failure,
)
from beam_api_pipeline.run.report import RateUse, RunReport, format_report

JAN_2 = datetime(2024, 1, 2, tzinfo=UTC)


def check(**fields: Any) -> QualityCheckConfig:
    return QualityCheckConfig(**fields)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"title": "a"}, None),
        ({"title": ""}, None),
        ({"title": 0}, None),
        ({"title": None}, "not_null title: null"),
        ({}, "not_null title: null"),
    ],
)
def test_not_null(row, expected):
    assert record_failure(check(check="not_null", field="title"), row) == expected


def test_not_null_reads_dotted_paths():
    assert record_failure(check(check="not_null", field="user.login"), {"user": {"login": "x"}}) is None
    assert record_failure(check(check="not_null", field="user.login"), {"user": {}}) == "not_null user.login: null"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("open", None),
        ("closed", None),
        (None, None),  # nulls are not_null's business
        ("spam", 'accepted_values state: "spam" is not accepted'),
        (1, None),
        (True, "accepted_values state: true is not accepted"),  # true is not 1
        ("1", 'accepted_values state: "1" is not accepted'),
    ],
)
def test_accepted_values(value, expected):
    accepted = check(check="accepted_values", field="state", values=["open", "closed", 1])
    assert record_failure(accepted, {"state": value}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, None),
        (100000, None),
        (2.5, None),
        (None, None),
        (-1, "range comments: -1 < min 0"),
        (100001, "range comments: 100001 > max 100000"),
        ("5", 'range comments: "5" is not a number'),
        (True, "range comments: true is not a number"),
    ],
)
def test_range(value, expected):
    assert record_failure(check(check="range", field="comments", min=0, max=100000), {"comments": value}) == expected


def test_range_with_one_bound():
    assert record_failure(check(check="range", field="n", min=1), {"n": 10**12}) is None
    assert record_failure(check(check="range", field="n", max=1.5), {"n": 2}) == "range n: 2 > max 1.5"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://x", None),
        (None, None),
        ("http://x", 'regex url: "http://x" does not match'),
        (5, "regex url: 5 is not text"),
    ],
)
def test_regex_searches_text(value, expected):
    assert record_failure(check(check="regex", field="url", pattern="^https://"), {"url": value}) == expected


def test_a_long_value_is_cut_in_a_reason():
    assert value_text("x" * 500) == '"' + "x" * 116 + "..."
    assert value_text({"b": 1}) == '{"b":1}'


def test_record_failures_lists_each_failed_check_with_its_index():
    checks = [
        (0, check(check="not_null", field="a"), None),
        (2, check(check="regex", field="b", pattern="^x"), re.compile("^x")),
        (3, check(check="range", field="c", min=0), None),
    ]
    assert record_failures(checks, {"a": None, "b": "y", "c": 1}) == [
        [0, "not_null a: null"],
        [2, 'regex b: "y" does not match'],
    ]
    assert record_failures(checks, {"a": 1, "b": "x", "c": 1}) == []


def test_unique_keys_tell_types_apart_and_skip_nulls():
    assert unique_key({"v": 1}, "v") != unique_key({"v": 1.0}, "v") != unique_key({"v": True}, "v")
    assert unique_key({"v": {"a": 1, "b": 2}}, "v") == unique_key({"v": {"b": 2, "a": 1}}, "v")
    assert unique_key({"v": None}, "v") is None
    assert unique_key({}, "v") is None


def test_kept_order_is_window_then_parent_then_primary_key_then_content():
    rows = [
        (JAN_2 + timedelta(days=1), None, {"id": 1}),
        (JAN_2, None, {"id": "b"}),
        (JAN_2, None, {"id": 10}),
        (JAN_2, None, {"id": 9}),
        (JAN_2, "p2", {"id": 1}),
    ]
    ranked = sorted(rows, key=lambda item: kept_order(*item, "id"))
    assert [(start.day, parent, row["id"]) for start, parent, row in ranked] == [
        (2, None, 9),  # numbers before text, in number order (9 before 10)
        (2, None, 10),
        (2, None, "b"),
        (2, "p2", 1),  # a child's rows: by its parent record after the window
        (3, None, 1),
    ]


def test_kept_order_without_a_primary_key_is_by_content():
    a, b = {"x": 1, "y": 2}, {"x": 1, "y": 1}
    assert sorted([a, b], key=lambda row: kept_order(JAN_2, None, row, None)) == [b, a]


def test_rows_a_drop_row_check_already_failed_are_kept_last():
    rows = [(JAN_2, True, {"id": 1}), (JAN_2 + timedelta(days=1), False, {"id": 2})]
    ranked = sorted(rows, key=lambda item: kept_order(item[0], None, item[2], "id", item[1]))
    assert [row["id"] for _, _, row in ranked] == [2, 1]


def test_kept_order_leaves_the_metadata_columns_out():
    # `_extracted_at` sorts first in the row's JSON: it would decide which row is kept, by timing
    early = {"x": 2, "_extracted_at": "2024-01-02T00:00:01Z", "_run_id": "r"}
    late = {"x": 1, "_extracted_at": "2024-01-02T00:00:02Z", "_run_id": "r"}
    order = [kept_order(JAN_2, None, row, None, False, METADATA_COLUMNS) for row in (early, late)]
    assert sorted([early, late], key=lambda row: order[[early, late].index(row)]) == [late, early]
    assert kept_order(JAN_2, None, late, None, False, METADATA_COLUMNS) == kept_order(JAN_2, None, {"x": 1}, None)


def test_row_count():
    bounded = check(check="row_count", min=1, max=3)
    assert [row_count_failure(bounded, n) for n in (0, 1, 3, 4)] == [
        "row_count: 0 rows < min 1",
        None,
        None,
        "row_count: 4 rows > max 3",
    ]


def test_freshness():
    fresh = check(check="freshness", max_age="2d")
    now = JAN_2 + timedelta(days=2)
    assert freshness_failure(fresh, "updated_at", JAN_2, now) is None
    assert freshness_failure(fresh, "updated_at", JAN_2, now + timedelta(hours=12)) == (
        "freshness updated_at: the newest is 2024-01-02T00:00:00Z, 2.5d old (max_age 2d)"
    )
    assert freshness_failure(fresh, "updated_at", None, now) == "freshness updated_at: no row has a readable value"


def test_freshness_is_judged_unless_a_replay_a_run_without_windows_or_a_backfill():
    fresh = check(check="freshness", max_age="2d")
    now = JAN_2 + timedelta(days=10)
    assert judges_freshness(fresh, now, False, now)
    assert judges_freshness(fresh, now - timedelta(days=2), False, now)  # ends exactly max_age ago: judged
    assert not judges_freshness(fresh, now - timedelta(days=2, seconds=1), False, now)
    assert not judges_freshness(fresh, now, True, now)
    assert not judges_freshness(fresh, None, False, now)


def test_a_window_check_failure_names_the_action():
    assert window_check_failure("row_count: 0 rows < min 1") == "quality row_count: 0 rows < min 1 (fail_window)"


def test_the_column_a_field_becomes_after_the_transform():
    assert TransformConfig().column_of("updated_at") == "updated_at"
    renamed = TransformConfig(select=["id", "meta"], rename={"meta": "m", "updated_at": "u"})
    assert renamed.column_of("meta.updated_at") == "m.updated_at"
    assert renamed.column_of("updated_at") is None  # select leaves it out
    assert TransformConfig(select=["meta.updated_at.x"]).column_of("meta.updated_at") is None


def test_outcomes_come_from_the_counters_one_per_check():
    class Endpoint:
        quality = [check(check="not_null", field="title", action="drop_row"), check(check="row_count", min=1)]

    assert counter_name("items", 0, Endpoint.quality[0], "rows") == "quality_items_0_not_null_rows"
    counters = {
        "quality_items_0_not_null_rows": 3,
        "quality_items_0_not_null_windows": 2,
        "quality_items_1_row_count_windows": 1,
    }
    assert quality_outcomes({"items": Endpoint, "other": type("E", (), {"quality": []})}, counters) == (
        QualityOutcome("items", "not_null", "title", "drop_row", 3, 2, 0),
        QualityOutcome("items", "row_count", None, "warn", 0, 1, 1),
    )


def _report(quality: tuple[QualityOutcome, ...]) -> str:
    plan = RunPlan("r1", "p", JAN_2, [])
    run = PipelineRun("r1", "p", RunStatus.SUCCEEDED, JAN_2, JAN_2)
    counters = {"requests": 0, "files_written": 0, "split_parts": 0, "deferred_remainders": 0}
    return format_report(RunReport(plan, run, counters, {}, RateUse("share", None, None), "", quality))


def test_the_report_has_a_quality_line_per_check_and_none_without_checks():
    assert [line for line in _report(()).splitlines() if "quality" in line] == []
    outcomes = (
        QualityOutcome("items", "not_null", "title", "warn", 2, 1),
        QualityOutcome("items", "row_count", None, "fail_window", 0, 3, 1),
    )
    assert [line for line in _report(outcomes).splitlines() if "quality" in line] == [
        "  quality: items not_null title warn: 2 rows failed, 1 windows with a failure",
        "  quality: items row_count - fail_window: 0 rows failed, 3 windows with a failure",
    ]
    assert outcomes[0].to_dict() == {
        "endpoint": "items",
        "check": "not_null",
        "field": "title",
        "action": "warn",
        "rows_failed": 2,
        "windows_failed": 1,
        "index": 0,
    }


# --- configuration ----------------------------------------------------------------------------------------------


def problems(tmp_path: Path, quality: list[Any], parent: bool = False, watermark: bool = True) -> list[str]:
    """The problems of a config whose `items` endpoint (or its child `notes`, with `parent`) has `quality`."""
    endpoints: dict[str, Any] = {"items": {"path": "/items", "quality": [] if parent else quality}}
    if parent:
        endpoints["notes"] = {"path": "/items/{parent.id}/notes", "parent": "items", "quality": quality}
    return config_problems(tmp_path, {"endpoints": endpoints}, watermark)


Q = "api_config.endpoints.items.quality"


def config_problems(tmp_path: Path, api: dict[str, Any], watermark: bool = True) -> list[str]:
    """The problems of a config whose `api_config` is `api` (with a base URL, and a watermark with `watermark`)."""
    api = {"base_url": "https://api.example.com", **api}
    if watermark:
        api["watermark"] = {"initial_watermark": "2024-01-01T00:00:00Z"}
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump({"pipeline_id": "p", "api_config": api}))
    try:
        load_pipeline_config(path)
    except ConfigError as error:
        return [line.removeprefix(f"{path}: ") for line in error.problems]
    return []


@pytest.mark.parametrize(
    ("quality", "expected"),
    [
        (
            [{"check": "not_nul", "field": "a"}],
            [f"{Q}.0.check: must be one of: not_null, accepted_values, range, regex, unique, row_count, freshness"],
        ),
        ([{"check": "not_null"}], [f"{Q}.0.field: required for not_null"]),
        ([{"check": "unique"}], [f"{Q}.0.field: required for unique"]),
        ([{"check": "accepted_values", "field": "a"}], [f"{Q}.0.values: required for accepted_values"]),
        ([{"check": "accepted_values", "field": "a", "values": []}], [f"{Q}.0.values: must not be empty"]),
        (
            [{"check": "range", "field": "a"}],
            [f"{Q}.0.min: range needs min, max or both", f"{Q}.0.max: range needs min, max or both"],
        ),
        ([{"check": "range", "field": "a", "min": 2, "max": 1}], [f"{Q}.0.min: must be <= max"]),
        ([{"check": "regex", "field": "a"}], [f"{Q}.0.pattern: required for regex"]),
        (
            [{"check": "regex", "field": "a", "pattern": "["}],
            [f"{Q}.0.pattern: not a valid regular expression: unterminated character set at position 0"],
        ),
        (
            [{"check": "row_count"}],
            [f"{Q}.0.min: row_count needs min, max or both", f"{Q}.0.max: row_count needs min, max or both"],
        ),
        ([{"check": "row_count", "min": -1}], [f"{Q}.0.min: must be >= 0"]),
        (
            [{"check": "row_count", "field": "a", "min": 1}],
            [f"{Q}.0.field: not used by row_count (it counts a window's rows)"],
        ),
        (
            [{"check": "row_count", "min": 1, "action": "drop_row"}],
            [f"{Q}.0.action: row_count allows: warn, fail_window"],
        ),
        ([{"check": "freshness"}], [f"{Q}.0.max_age: required for freshness"]),
        ([{"check": "freshness", "max_age": "0s"}], [f"{Q}.0.max_age: must be > 0s"]),
        (
            [{"check": "freshness", "max_age": "2d", "action": "drop_row"}],
            [f"{Q}.0.action: freshness allows: warn, fail_window"],
        ),
        (
            [{"check": "not_null", "field": "a", "action": "fail"}],
            [f"{Q}.0.action: must be one of: warn, drop_row, fail_window"],
        ),
        ([{"check": "not_null", "field": "a", "pattern": "x"}], [f"{Q}.0.pattern: not used by not_null"]),
        ([{"check": "not_null", "field": "a", "colour": "x"}], [f"{Q}.0.colour: unknown key"]),
        (
            [{"check": "not_null", "field": "a"}, {"check": "unique", "field": "id"}, {"check": "regex", "field": "b"}],
            [f"{Q}.2.pattern: required for regex"],
        ),
    ],
)
def test_configuration_errors_are_one_line_each_with_the_key_path(tmp_path, quality, expected):
    assert problems(tmp_path, quality) == expected


def test_checks_a_child_endpoint_cannot_have(tmp_path):
    child = "api_config.endpoints.notes.quality"
    assert problems(tmp_path, [{"check": "row_count", "min": 1}], parent=True) == [
        f"{child}.0.check: row_count is for endpoints without a parent (a child's window is one task per parent record)"
    ]
    assert problems(tmp_path, [{"check": "freshness", "max_age": "1d", "action": "fail_window"}], parent=True) == [
        f"{child}.0.action: freshness on a child endpoint allows: warn"
    ]
    assert problems(tmp_path, [{"check": "unique", "field": "id", "action": "fail_window"}], parent=True) == []


@pytest.mark.parametrize("action", ["drop_row", "fail_window"])
def test_an_endpoint_with_children_cannot_drop_rows_or_fail_windows(tmp_path, action):
    endpoints = {
        "items": {"path": "/items", "quality": [{"check": "not_null", "field": "title", "action": action}]},
        "notes": {"path": "/items/{parent.id}/notes", "parent": "items"},
        "comments": {"path": "/items/{parent.id}/comments", "parent": "items"},
    }
    assert config_problems(tmp_path, {"endpoints": endpoints}) == [
        f"{Q}.0.action: {action} is not allowed on an endpoint with child endpoints (comments, notes): its children "
        "are fetched from every row it fetched"
    ]
    endpoints["items"]["quality"][0]["action"] = "warn"
    assert config_problems(tmp_path, {"endpoints": endpoints}) == []


def test_freshness_defaults_to_the_timestamp_column_the_transform_keeps(tmp_path):
    freshness = {"check": "freshness", "max_age": "1d"}
    endpoints = {"items": {"path": "/items", "quality": [freshness]}}
    dropped = {"endpoints": endpoints, "transform": {"select": ["id"]}}
    assert config_problems(tmp_path, dropped) == [
        f"{Q}.0.field: required for freshness: transform.select drops watermark.timestamp_field (updated_at)"
    ]
    kept = {"endpoints": endpoints, "transform": {"select": ["id", "updated_at"], "rename": {"updated_at": "u"}}}
    assert config_problems(tmp_path, kept) == []
    endpoints["items"]["quality"] = [{**freshness, "field": "id"}]
    assert config_problems(tmp_path, dropped) == []


def test_freshness_takes_a_time_format(tmp_path):
    assert check(check="freshness", field="ts", max_age="1d", time_format="epoch").time_format == "epoch"
    assert problems(tmp_path, [{"check": "freshness", "field": "ts", "max_age": "1d", "time_format": "x"}]) == [
        f"{Q}.0.time_format: must be one of: iso8601, epoch, epoch_ms, date, or a strftime pattern like %Y-%m-%d"
    ]
    # the watermark's rule, the same type: a format that writes no day is refused
    assert problems(tmp_path, [{"check": "freshness", "field": "ts", "max_age": "1d", "time_format": "%Y-%m"}]) == [
        f"{Q}.0.time_format: '%Y-%m' writes no day: use one of iso8601, epoch, epoch_ms, date or a strftime pattern "
        "with at least a day (%d, %j), and %H, %M, %S, %3f (ms) or %f (µs) for finer times"
    ]
    assert problems(tmp_path, [{"check": "not_null", "field": "a", "time_format": "epoch"}]) == [
        f"{Q}.0.time_format: not used by not_null"
    ]


def test_freshness_needs_a_field_without_a_watermark(tmp_path):
    assert problems(tmp_path, [{"check": "freshness", "max_age": "1d"}], watermark=False) == [
        f"{Q}.0.field: required for freshness when the watermark is disabled"
    ]
    assert problems(tmp_path, [{"check": "freshness", "field": "ts", "max_age": "1d"}], watermark=False) == []


def test_action_defaults_to_warn_and_a_config_loads_every_check(tmp_path):
    every = [
        {"check": "not_null", "field": "title", "action": "drop_row"},
        {"check": "accepted_values", "field": "state", "values": ["open", "closed"]},
        {"check": "range", "field": "comments", "min": 0, "max": 100000},
        {"check": "regex", "field": "html_url", "pattern": "^https://"},
        {"check": "unique", "field": "id"},
        {"check": "row_count", "min": 1, "action": "warn"},
        {"check": "freshness", "max_age": "2d", "action": "warn"},
    ]
    assert problems(tmp_path, every) == []
    assert check(check="unique", field="id").action == "warn"
