"""Reading record timestamps and writing window bounds in the formats APIs use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from beam_api_pipeline.windowing import format_utc

#: The time formats known by name and how each writes a (UTC) moment; any other time format is a strftime pattern.
_NAMED: dict[str, Callable[[datetime], str | int]] = {
    "iso8601": format_utc,
    "epoch": lambda moment: int(moment.timestamp()),
    "epoch_ms": lambda moment: int(moment.timestamp() * 1000),
    "date": lambda moment: moment.date().isoformat(),
}
NAMED_FORMATS = tuple(_NAMED)
_SMALLEST_STEP = {"epoch_ms": timedelta(milliseconds=1), "date": timedelta(days=1)}


def format_bound(moment: datetime, time_format: str) -> str | int:
    """Render a window bound as the API expects it in a query parameter or variable."""
    moment = moment.astimezone(UTC)
    if time_format in _NAMED:
        return _NAMED[time_format](moment)
    return moment.strftime(time_format)


def inclusive_end(end: datetime, time_format: str) -> datetime:
    """The last instant before `end` that the format can express (for APIs whose end bound is inclusive)."""
    return end - _SMALLEST_STEP.get(time_format, timedelta(seconds=1))


def parse_timestamp(value: object, time_format: str = "iso8601") -> datetime:
    """Read a record's timestamp: ISO 8601 (naive means UTC), a date, epoch seconds or milliseconds.

    Raises ValueError with a message naming the value when it cannot be read.
    """
    if isinstance(value, str):  # the common case first: this runs once for every record
        return _parse_text(value.strip(), time_format)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        seconds = value / 1000 if time_format == "epoch_ms" else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def _parse_text(text: str, time_format: str) -> datetime:
    if time_format in ("epoch", "epoch_ms") and text.lstrip("-").replace(".", "", 1).isdigit():
        return parse_timestamp(float(text), time_format)
    try:
        return _as_utc(datetime.fromisoformat(text))
    except ValueError:
        if time_format in NAMED_FORMATS:
            raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from None
    try:
        return _as_utc(datetime.strptime(text, time_format))
    except ValueError:
        raise ValueError(f"timestamp {text!r} does not match {time_format!r}") from None


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
