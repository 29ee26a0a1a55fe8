"""Reading record timestamps and writing window bounds in the formats APIs use, and the grid each format can write.

A time format is one of `NAMED_FORMATS` or a strftime pattern (literal text allowed, `%%` for a percent sign,
glibc's flags `-`, `_`, `0`, `^`, `#` allowed: `%-d`). Patterns may also use `%3f` (milliseconds, 3 digits) and `%6f`
(microseconds, the same as `%f`); `%s` writes the UTC epoch seconds (C's strftime would use the local zone). A format's
*resolution* is the step between two instants it can write: a bound finer than that is cut to it when sent, so
windows, run ends and ticks are floored to it (`floor_to`) and the window sent is the window kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from beam_api_pipeline.core.windowing import EPOCH, format_utc

#: The time formats known by name and how each writes a (UTC) moment; any other time format is a strftime pattern.
_NAMED: dict[str, Callable[[datetime], str | int]] = {
    "iso8601": format_utc,
    "epoch": lambda moment: (moment - EPOCH) // timedelta(seconds=1),
    "epoch_ms": lambda moment: (moment - EPOCH) // timedelta(milliseconds=1),
    "date": lambda moment: moment.date().isoformat(),
}
NAMED_FORMATS = tuple(_NAMED)

MICROSECOND = timedelta(microseconds=1)
MILLISECOND = timedelta(milliseconds=1)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

_NAMED_RESOLUTION = {"iso8601": MICROSECOND, "epoch": SECOND, "epoch_ms": MILLISECOND, "date": DAY}
#: The finest instant each strftime directive writes (directives of week, month or year: none of a day's length).
_DIRECTIVE_RESOLUTION = {
    "f": MICROSECOND,
    "6f": MICROSECOND,
    "3f": MILLISECOND,
    **dict.fromkeys("STcXrs", SECOND),
    **dict.fromkeys("MR", MINUTE),
    **dict.fromkeys("HIkl", HOUR),
    **dict.fromkeys("djexDFaAwu", DAY),
}
#: A directive: `%`, an optional glibc flag (`%-d`: no padding), and its code (group 1).
_DIRECTIVE = re.compile(r"%[-_0^#]?([36]f|.)", re.DOTALL)
#: What strptime reads in place of the composite directives it does not know.
_PARSED_AS = {
    "T": "%H:%M:%S",
    "R": "%H:%M",
    "D": "%m/%d/%y",
    "F": "%Y-%m-%d",
    "r": "%I:%M:%S %p",
    "e": "%d",
    "k": "%H",
    "l": "%I",
}
#: Below this, an epoch_ms value is before 1973-03-03 read as milliseconds; above it, an epoch value is after the
#: year 5138 read as seconds: each is a timestamp written in the other unit.
_UNIT_LIMIT = 10**11


def resolution(time_format: str) -> timedelta | None:
    """The step between two instants `time_format` can write: its finest directive for a strftime pattern
    (`%f` 1 µs, `%3f` 1 ms, `%S` 1 s, `%M` 1 min, `%H` 1 h, `%d`/`%j` 1 day); None when it writes no day (only a
    week, month or year, or nothing at all)."""
    if time_format in _NAMED_RESOLUTION:
        return _NAMED_RESOLUTION[time_format]
    steps = [_DIRECTIVE_RESOLUTION[code] for code in _DIRECTIVE.findall(time_format) if code in _DIRECTIVE_RESOLUTION]
    return min(steps, default=None)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    """The latest instant at or before `moment` on the grid `EPOCH + k * step`."""
    return EPOCH + (moment - EPOCH) // step * step


def format_bound(moment: datetime, time_format: str) -> str | int:
    """Render a window bound as the API expects it in a query parameter or variable."""
    moment = moment.astimezone(UTC)
    if time_format in _NAMED:
        return _NAMED[time_format](moment)
    return moment.strftime(_strftime_pattern(time_format, moment))


def _strftime_pattern(time_format: str, moment: datetime) -> str:
    """`time_format` as strftime writes `moment` (UTC) right: `%3f` and `%s` written in, `%6f` as `%f`."""
    written = {
        "3f": f"{moment.microsecond // 1000:03d}",
        "6f": "%f",
        "f": "%f",
        "s": str((moment - EPOCH) // SECOND),
    }
    return _DIRECTIVE.sub(lambda m: written.get(m.group(1), m.group(0)), time_format)


def _strptime_pattern(time_format: str) -> str:
    """`time_format` as strptime reads it: `%3f` and `%6f` as `%f`, flags dropped (strptime reads unpadded numbers
    and any case), the directives it does not know (`_PARSED_AS`) spelled out."""

    def read(match: re.Match[str]) -> str:
        code = match.group(1)
        return _PARSED_AS.get(code, "%" + code.removeprefix("3").removeprefix("6"))

    return _DIRECTIVE.sub(read, time_format)


def parse_timestamp(value: object, time_format: str = "iso8601") -> datetime:
    """Read a record's timestamp: ISO 8601 (naive means UTC), a date, epoch seconds or milliseconds.

    Raises ValueError with a message naming the value when it cannot be read, and when a number is implausible
    for the unit of `time_format` (`check_epoch_unit`).
    """
    if isinstance(value, str):  # the common case first: this runs once for every record
        return _parse_text(value.strip(), time_format)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        check_epoch_unit(value, time_format)
        seconds = value / 1000 if time_format == "epoch_ms" else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def check_epoch_unit(value: float, time_format: str) -> None:
    """Raise ValueError when the number `value` cannot be a timestamp in `time_format`'s unit: below 1e11 for
    `epoch_ms` (before 1973-03-03: epoch seconds, surely), 1e11 or more otherwise (after the year 5138 as
    seconds: epoch milliseconds)."""
    if time_format == "epoch_ms" and abs(value) < _UNIT_LIMIT:
        raise ValueError(
            f"timestamp {value!r} is epoch seconds, not milliseconds: time_format is epoch_ms "
            f"(it would read as {format_utc(EPOCH + value * MILLISECOND)})"
        )
    if time_format != "epoch_ms" and abs(value) >= _UNIT_LIMIT:
        raise ValueError(f"timestamp {value!r} is epoch milliseconds, not seconds: time_format is {time_format}")


def _parse_text(text: str, time_format: str) -> datetime:
    if time_format in ("epoch", "epoch_ms") and text.lstrip("-").replace(".", "", 1).isdigit():
        return parse_timestamp(float(text), time_format)
    try:
        return _as_utc(datetime.fromisoformat(text))
    except ValueError:
        if time_format in NAMED_FORMATS:
            raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from None
    try:
        return _as_utc(datetime.strptime(text, _strptime_pattern(time_format)))
    except ValueError:
        raise ValueError(f"timestamp {text!r} does not match {time_format!r}") from None


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
