"""Time windows: the unit of work that a run is cut into (pure functions, no Beam)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Window:
    """A half-open interval [start, end) of record update times; `overlap` widens the request only."""

    start: datetime
    end: datetime
    overlap: timedelta = timedelta(0)

    @property
    def fetch_start(self) -> datetime:
        """The lower bound sent to the API: the window start moved back by the overlap."""
        return self.start - self.overlap

    def contains(self, moment: datetime) -> bool:
        """True when `moment` falls in [start, end): each record belongs to exactly one window."""
        return self.start <= moment < self.end

    def label(self) -> str:
        """A short, stable name for logs, file names and dead letters."""
        return f"{format_utc(self.start)}/{format_utc(self.end)}"


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, fractional seconds only when present."""
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def plan_windows(
    start: datetime,
    end: datetime,
    size: timedelta,
    offset: timedelta = timedelta(0),
    overlap: timedelta = timedelta(0),
) -> list[Window]:
    """Cut [start, end) into windows at the grid `EPOCH + offset + k * size`.

    The first and last windows may be partial; together the windows cover [start, end) exactly,
    without gaps or overlap (the configured overlap only widens what each window requests).
    """
    if size <= timedelta(0):
        raise ValueError("window size must be positive")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    if end <= start:
        return []
    cuts = [start]
    cut = _next_grid_point(start, size, offset)
    while cut < end:
        cuts.append(cut)
        cut += size
    cuts.append(end)
    return [Window(a, b, overlap) for a, b in itertools.pairwise(cuts)]


def _next_grid_point(moment: datetime, size: timedelta, offset: timedelta) -> datetime:
    """The first grid point strictly after `moment`."""
    anchor = EPOCH + offset
    steps = (moment - anchor) // size
    return anchor + (steps + 1) * size
