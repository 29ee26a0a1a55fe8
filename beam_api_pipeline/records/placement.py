"""Where a window's records fell, and the rule that fails a window whose time filter the API did not apply
(`filter_failure`): plain data, no Beam. `transforms.records` counts each window's records with it, `check`
judges the first window with the same rule."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from beam_api_pipeline.config.watermark import WatermarkConfig
from beam_api_pipeline.core.window_bounds import sent_bound
from beam_api_pipeline.core.windowing import Window, format_utc

#: A Placement between stages: (fetched, outside, invalid, astray, unreadable, outside example, unreadable example).
PlacementElement = tuple[int, int, int, int, int, str | None, str | None]
#: The error types of a window `filter_failure` fails: most of its astray records lie outside the range asked
#: for, or most have no readable timestamp.
FILTER_NOT_APPLIED, TIMESTAMP_UNREADABLE = "FilterNotApplied", "TimestampUnreadable"


@dataclass(frozen=True)
class Placement:
    """Counts of a window's records (or of some of them): `fetched` (every record the API returned), `outside`
    (in no place of this window: dropped), `invalid` (unreadable: to the dead letter), and `astray`: those a time
    filter that the API applied would not have returned (before the start the request sent, or at or after the end
    when one is sent) and the `unreadable`, whose timestamp cannot be read. `outside_example` and
    `unreadable_example` describe one astray record of each kind (the least in text order, the same on every
    runner)."""

    fetched: int = 0
    outside: int = 0
    invalid: int = 0
    astray: int = 0
    unreadable: int = 0
    outside_example: str | None = None
    unreadable_example: str | None = None

    def to_element(self) -> PlacementElement:
        return tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[return-value]

    @classmethod
    def from_element(cls, element: PlacementElement) -> Placement:
        return cls(*element)

    def __add__(self, other: Placement) -> Placement:
        return Placement(
            *(getattr(self, name) + getattr(other, name) for name in _COUNTS),
            _least(self.outside_example, other.outside_example),
            _least(self.unreadable_example, other.unreadable_example),
        )


_COUNTS = ("fetched", "outside", "invalid", "astray", "unreadable")


def _least(first: str | None, second: str | None) -> str | None:
    return min((example for example in (first, second) if example is not None), default=None)


def is_astray(window: Window, moment: datetime, watermark: WatermarkConfig, sends_end: bool) -> bool:
    """Whether a record of `moment` is one that a window's time filter keeps out: before the start it sends
    (`window_bounds.sent_bound`: `fetch_start`, one step earlier for an API whose start is exclusive), or, when
    an end is sent (`sends_end`), at or after the end."""
    start = sent_bound(window, "window_start", watermark.time_format, watermark)
    return moment < start or (sends_end and moment >= window.end)


def astray_example(field: str, value: Any, moment: datetime) -> str:
    """How a record outside the range asked for is named in a failure: its field, its value and the time it was
    read as."""
    return f"{field}={value!r} (read as {format_utc(moment)})"


def filter_failure(placement: Placement, max_share: float, params: dict[str, Any]) -> tuple[str, str] | None:
    """The error type and message of a window whose records are `placement` failed with `watermark.filter:
    server`, or None: the API returned records and more than `max_share` of them are astray, so the filter sent
    (`params`, the window bounds as sent) was not applied (FILTER_NOT_APPLIED), or most of them have timestamps
    that cannot be read as the time format says (TIMESTAMP_UNREADABLE)."""
    if placement.fetched == 0 or placement.astray <= max_share * placement.fetched:
        return None
    found = (
        f"{placement.astray} of {placement.fetched} records the API returned are outside the window it was asked "
        f"for or have no readable timestamp (more than watermark.max_outside_share {max_share:g})"
    )
    if placement.unreadable * 2 > placement.astray:
        detail = f"{placement.unreadable} have no readable timestamp; for example {placement.unreadable_example}"
        return TIMESTAMP_UNREADABLE, f"{found}: {detail}"
    sent = ", ".join(f"{name}={value}" for name, value in params.items()) or "no time parameter"
    return FILTER_NOT_APPLIED, f"{found}: the API did not filter by {sent}; for example {placement.outside_example}"
