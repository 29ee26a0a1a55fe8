"""Data quality checks as pure functions (`api_config.endpoints.<name>.quality`), their counter names, and what
a run's checks found (`QualityOutcome`, in the run report). The Beam side is `records/quality.py`.

A failure is a reason (text naming the check, the field and the value), or None when the row or window passes.
Null and missing values pass every check but `not_null` (and are never duplicates for `unique`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from beam_api_pipeline.config.fields import format_duration
from beam_api_pipeline.config.quality import RECORD_CHECKS, QualityCheckConfig
from beam_api_pipeline.core import jsoncodec, metrics
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.windowing import format_utc

#: The error_type of quality failures in the dead letter.
QUALITY_ERROR_TYPE = "QualityCheck"
_VALUE_TEXT_LIMIT = 120


def value_text(value: Any) -> str:
    """`value` as JSON text for a reason, cut to a readable length."""
    text = jsoncodec.dumps(value)
    return text if len(text) <= _VALUE_TEXT_LIMIT else text[: _VALUE_TEXT_LIMIT - 3] + "..."


def check_label(check: QualityCheckConfig) -> str:
    """`not_null title`, `row_count`: the check and its field."""
    return f"{check.check} {check.field}" if check.field else check.check


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def record_failure(check: QualityCheckConfig, row: Any, pattern: re.Pattern[str] | None = None) -> str | None:
    """Why `row` fails the record check `check` (not_null, accepted_values, range, regex), or None.
    `pattern` is `check.pattern` compiled (compiled here when not given)."""
    value = get_path(row, check.field)
    label = check_label(check)
    if value is None:
        return f"{label}: null" if check.check == "not_null" else None
    if check.check == "accepted_values":
        accepted = {jsoncodec.canonical(item) for item in check.values}
        return None if jsoncodec.canonical(value) in accepted else f"{label}: {value_text(value)} is not accepted"
    if check.check == "range":
        return _range_failure(label, value, check.min, check.max)
    if check.check == "regex":
        if not isinstance(value, str):
            return f"{label}: {value_text(value)} is not text"
        compiled = pattern or re.compile(check.pattern)
        return None if compiled.search(value) else f"{label}: {value_text(value)} does not match"
    return None


def _range_failure(label: str, value: Any, low: float | None, high: float | None) -> str | None:
    if not _is_number(value):
        return f"{label}: {value_text(value)} is not a number"
    bound = _outside(value, low, high)
    return None if bound is None else f"{label}: {value_text(value)} {bound}"


def _outside(value: float, low: float | None, high: float | None) -> str | None:
    """`< min <low>` or `> max <high>` when `value` is outside the bounds given (inclusive), else None."""
    if low is not None and value < low:
        return f"< min {low:g}"
    if high is not None and value > high:
        return f"> max {high:g}"
    return None


def record_failures(checks: list[tuple[int, QualityCheckConfig, re.Pattern[str] | None]], row: Any) -> list:
    """`[index, reason]` of each record check `row` fails, in the order of `checks`."""
    found = ((index, record_failure(check, row, pattern)) for index, check, pattern in checks)
    return [[index, reason] for index, reason in found if reason is not None]


def record_checker(check: QualityCheckConfig, pattern: re.Pattern[str] | None = None) -> Callable[[Any], str | None]:
    """`record_failure` of the record check `check` as one function of the row, what does not depend on the row
    worked out once: a row that plainly passes (a value present, a text or an integer among the accepted values, a
    number within the range, a text the pattern finds) costs a lookup; a row that fails goes to `record_failure`
    itself, which words every reason."""
    field, kind = check.field, check.check
    top = "." not in field

    def value_of(row: Any) -> Any:
        return row.get(field) if top and type(row) is dict else get_path(row, field)

    def slow(row: Any) -> str | None:
        return record_failure(check, row, pattern)

    if kind == "not_null":
        return lambda row: None if value_of(row) is not None else slow(row)
    if kind == "accepted_values":
        texts = {value for value in check.values if type(value) is str}
        integers = {value for value in check.values if type(value) is int}
        accepted = {jsoncodec.canonical(item) for item in check.values}

        def accepted_value(row: Any) -> str | None:
            value = value_of(row)
            if value is None or (value in texts if type(value) is str else type(value) is int and value in integers):
                return None
            return None if jsoncodec.canonical(value) in accepted else slow(row)

        return accepted_value
    if kind == "range":
        low = float("-inf") if check.min is None else check.min
        high = float("inf") if check.max is None else check.max

        def in_range(row: Any) -> str | None:
            value = value_of(row)
            if value is None or (type(value) in (int, float) and low <= value <= high):
                return None
            return slow(row)

        return in_range
    if kind == "regex":
        compiled = pattern or re.compile(check.pattern)

        def matches(row: Any) -> str | None:
            value = value_of(row)
            return None if value is None or (type(value) is str and compiled.search(value)) else slow(row)

        return matches
    return slow


def value_key(value: Any) -> int | bytes | None:
    """What rows with equal values of a `unique` field share, as `unique_key` compares them (1, 1.0 and true
    differ), in a cheap form: an integer of 64 bits itself, anything else its canonical JSON; None for a null."""
    if value is None:
        return None
    if type(value) is int and -(2**63) <= value < 2**63:
        return value
    return jsoncodec.canonical(value)


def key_hash(key: int | bytes) -> int:
    """A 64-bit signed number for a `value_key`: an integer itself, canonical JSON hashed. Keys that differ may
    share one (rows that only might be duplicates, then compared by key); equal keys always do."""
    if type(key) is int:
        return key
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little", signed=True)


def is_record_check(check: QualityCheckConfig) -> bool:
    return check.check in RECORD_CHECKS


def unique_key(row: Any, field: str) -> bytes | None:
    """What rows with the same value of `field` share (canonical JSON, so 1, 1.0 and true differ), or None for a
    null or missing value, which is never a duplicate."""
    value = get_path(row, field)
    return None if value is None else jsoncodec.canonical(value)


def _key_order(value: Any) -> tuple:
    """Numbers before text, text before anything else (as canonical JSON)."""
    if _is_number(value):
        return (0, value, "")
    if isinstance(value, str):
        return (1, 0, value)
    return (2, 0, jsoncodec.canonical(value).decode())


def kept_order(
    window_start: datetime,
    parent: str | None,
    row: Any,
    primary_key: str | None,
    dropped: bool = False,
    metadata: tuple[str, ...] = (),
) -> tuple:
    """The order in which rows sharing a `unique` value are ranked; the first is kept, the others fail: rows
    `dropped` (they already failed a `drop_row` check) last, then the earliest window, then (a child's) the parent
    record's key text, then the smallest `primary_key`, then the row as canonical JSON without its `metadata`
    columns (`config.api.METADATA_COLUMNS` with `add_metadata`: `_extracted_at` depends on timing). The same on
    every runner, whatever order the shuffle gives."""
    key = _key_order(get_path(row, primary_key)) if primary_key else (3, 0, "")
    if metadata and isinstance(row, dict):
        row = {name: value for name, value in row.items() if name not in metadata}
    return (dropped, window_start, parent or "", key, jsoncodec.canonical(row))


def duplicate_reason(check: QualityCheckConfig, value: Any, kept_window: datetime) -> str:
    return f"{check_label(check)}: {value_text(value)} is also in a row kept (window from {format_utc(kept_window)})"


def row_count_failure(check: QualityCheckConfig, count: int) -> str | None:
    """Why a window of `count` rows fails `row_count`, or None."""
    bound = _outside(count, check.min, check.max)
    return None if bound is None else f"row_count: {count} rows {bound}"


def freshness_failure(check: QualityCheckConfig, field: str, newest: datetime | None, now: datetime) -> str | None:
    """Why a run whose newest `field` value is `newest` (None: no row had one) fails `freshness` at `now`."""
    if newest is None:
        return f"freshness {field}: no row has a readable value"
    age = now - newest
    if age <= check.max_age:
        return None
    max_age = format_duration(check.max_age)
    return f"freshness {field}: the newest is {format_utc(newest)}, {_age_text(age)} old (max_age {max_age})"


def judges_freshness(check: QualityCheckConfig, planned_end: datetime | None, is_replay: bool, now: datetime) -> bool:
    """Whether a run judges `freshness`: not a replay (it reads old windows again), and its planned windows end
    (`planned_end`, None: it plans none, so reads nothing) no earlier than `now - max_age`: a backfill of old data
    is not stale data."""
    return not is_replay and planned_end is not None and planned_end >= now - check.max_age


def _age_text(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"


def window_failure(check: QualityCheckConfig, rows_failed: int, rows: int, first_reason: str) -> str:
    """The error of a window that a row check with `fail_window` failed."""
    return f"quality {check_label(check)} (fail_window): {rows_failed} of {rows} rows failed, first: {first_reason}"


def window_check_failure(reason: str) -> str:
    """The error of a window that a window check (row_count, freshness) with `fail_window` failed: its `reason`."""
    return f"quality {reason} (fail_window)"


def counter_name(endpoint: str, index: int, check: QualityCheckConfig, what: str) -> str:
    """`quality_<endpoint>_<index>_<check>_<what>`, `what` being `rows` or `windows`."""
    return f"{metrics.QUALITY_OF}{endpoint}_{index}_{check.check}_{what}"


@dataclass(frozen=True)
class QualityOutcome:
    """What one check found in a run: `rows_failed` (rows that failed it, whatever its action did) and
    `windows_failed` (windows with a failure: a row that failed, a row count out of range; for freshness 1 when
    the run is stale), with `index` its place in the endpoint's `quality` list."""

    endpoint: str
    check: str
    field: str | None
    action: str
    rows_failed: int
    windows_failed: int
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed(self) -> bool:
        """Whether the check failed anywhere (a row or a window), whatever its action."""
        return bool(self.rows_failed or self.windows_failed)

    def summary(self) -> str:
        return (
            f"{self.endpoint} {self.check} {self.field or '-'} {self.action}: "
            f"{self.rows_failed} rows failed, {self.windows_failed} windows with a failure"
        )

    def line(self) -> str:
        return f"  quality: {self.summary()}"


def quality_outcomes(endpoints: Mapping[str, Any], counters: Mapping[str, int]) -> tuple[QualityOutcome, ...]:
    """One QualityOutcome per check of `endpoints` (`EndpointConfig`s by name), from the run's counters."""
    return tuple(
        QualityOutcome(
            endpoint,
            check.check,
            check.field,
            check.action,
            counters.get(counter_name(endpoint, index, check, "rows"), 0),
            counters.get(counter_name(endpoint, index, check, "windows"), 0),
            index,
        )
        for endpoint, config in endpoints.items()
        for index, check in enumerate(config.quality)
    )
