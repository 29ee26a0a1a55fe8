"""Where a window's records fell, and the rule that fails a window whose time filter the API did not apply
(`filter_failure`): plain data, no Beam. `transforms.records` counts each window's records with it, `check`
judges the first window with the same rule."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from beam_api_pipeline.windowing import Window, format_utc

#: A Placement between stages: (fetched, outside, invalid, astray, example).
PlacementElement = tuple[int, int, int, int, str | None]


@dataclass(frozen=True)
class Placement:
    """Counts of a window's records (or of some of them): `fetched` (every record the API returned), `outside`
    (in no place of this window: dropped), `invalid` (unreadable: to the dead letter), and `astray`: those a time
    filter that the API applied would not have returned (before the start the request sent, or at or after the end
    when one is sent) and those whose timestamp cannot be read. `example` describes one astray record (the least
    in text order, the same on every runner)."""

    fetched: int = 0
    outside: int = 0
    invalid: int = 0
    astray: int = 0
    example: str | None = None

    def to_element(self) -> PlacementElement:
        return (self.fetched, self.outside, self.invalid, self.astray, self.example)

    @classmethod
    def from_element(cls, element: PlacementElement) -> Placement:
        return cls(*element)

    def __add__(self, other: Placement) -> Placement:
        examples = [example for example in (self.example, other.example) if example is not None]
        counts = (getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "example")
        return Placement(*counts, min(examples, default=None))


def is_astray(window: Window, moment: datetime, sends_end: bool) -> bool:
    """Whether a record of `moment` is one that a window's time filter keeps out: before the start it sends
    (`fetch_start`), or, when an end is sent (`sends_end`), at or after the end."""
    return moment < window.fetch_start or (sends_end and moment >= window.end)


def astray_example(field: str, value: Any, moment: datetime | None = None) -> str:
    """How an astray record is named in a failure: its field, its value and the time it was read as."""
    read = f" (read as {format_utc(moment)})" if moment is not None else ""
    return f"{field}={value!r}{read}"


def filter_failure(placement: Placement, max_share: float, params: dict[str, Any]) -> str | None:
    """Why a window whose records are `placement` failed with `watermark.filter: server`, or None: the API returned
    records and more than `max_share` of them are astray, so the filter sent (`params`, the window bounds as
    sent) was not applied, or the records' timestamps cannot be read as the time format says."""
    if placement.fetched == 0 or placement.astray <= max_share * placement.fetched:
        return None
    sent = ", ".join(f"{name}={value}" for name, value in params.items()) or "no time parameter"
    return (
        f"{placement.astray} of {placement.fetched} records the API returned are outside the window it was asked "
        f"for or have no readable timestamp (more than watermark.max_outside_share {max_share:g}): the API did not "
        f"filter by {sent}; for example {placement.example}"
    )
