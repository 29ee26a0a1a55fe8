"""Value types shared by the config models: durations, UTC date-times, time formats and secrets.

Each type parses the forms people write in YAML and serializes back to a form that parses to the same value,
so that a dumped config loads again unchanged.
"""

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, SecretStr

from beam_api_pipeline.core.timeformat import NAMED_FORMATS, resolution
from beam_api_pipeline.core.window_bounds import FORMAT_RULE

_DURATION_ERROR = "expected a duration like 30s, 15m, 1h, 7d"
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")
_DATETIME_ERROR = "expected an ISO 8601 date-time like 2024-01-01T00:00:00Z"
_MASK = "**********"
_WHOLE_REFERENCE = re.compile(r"\$\{(?:env|file|secret):[^}]*\}")


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h30m"``, ``"7d"``, ``"0m"``, a number of seconds or a timedelta."""
    if isinstance(value, timedelta):
        duration = value
    else:
        try:
            duration = _to_timedelta(value)
        except (ValueError, OverflowError):
            raise ValueError(_DURATION_ERROR) from None
    if duration < timedelta(0):
        raise ValueError(_DURATION_ERROR)
    return duration


def _to_timedelta(value: Any) -> timedelta:
    """Seconds, or a ``"1d2h3m4s"`` string; ValueError or OverflowError when it is neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    text = value.strip() if isinstance(value, str) else ""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(value)
    days, hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest string that ``parse_duration`` reads back as ``value``: ``"1d2h"``, ``"1m30s"``."""
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{value.days}d" if value.days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    if value.microseconds:
        parts.append(f"{seconds}.{value.microseconds:06d}".rstrip("0") + "s")
    elif seconds or not any(parts):
        parts.append(f"{seconds}s")
    return "".join(parts)


def parse_utc_datetime(value: Any) -> datetime:
    """An ISO 8601 date-time (``Z``, an offset, or naive meaning UTC) or a date, as an aware UTC datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(_DATETIME_ERROR) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(_DATETIME_ERROR)


def format_utc_datetime(value: datetime) -> str:
    """``2024-01-01T00:00:00Z`` (with microseconds only when there are some)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be > 0s")
    return value


def known_time_format(value: str) -> str:
    """``value`` if it is a named time format or a strftime pattern that writes at least a day."""
    if value not in NAMED_FORMATS and "%" not in value:
        raise ValueError(f"must be one of: {', '.join(NAMED_FORMATS)}, or a strftime pattern like %Y-%m-%d")
    if resolution(value) is None:
        raise ValueError(f"{value!r} {FORMAT_RULE}")
    return value


def _dump_secret(value: SecretStr) -> str:
    """A reference (``${secret:...}``) is written as is; a literal secret is masked, never written out."""
    secret = value.get_secret_value()
    return secret if _WHOLE_REFERENCE.fullmatch(secret) else _MASK


#: A non-negative length of time; written as ``"1h30m"``.
Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, when_used="json")]

#: A duration longer than zero.
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]

#: A timezone-aware UTC datetime; written as ``"2024-01-01T00:00:00Z"``.
UtcDatetime = Annotated[
    datetime, BeforeValidator(parse_utc_datetime), PlainSerializer(format_utc_datetime, when_used="json")
]

#: How a time is written in records and requests: a named format or a strftime pattern (`core.timeformat`).
TimeFormat = Annotated[str, AfterValidator(known_time_format)]

#: A secret: hidden from ``repr``; serialized as its ``${...}`` reference, or masked when given literally.
Secret = Annotated[SecretStr, PlainSerializer(_dump_secret, when_used="json")]
