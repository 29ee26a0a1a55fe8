"""An Open-Meteo-archive-shaped route: `GET /v1/archive`, as https://archive-api.open-meteo.com answers it.

`latitude`, `longitude`, `start_date` and `end_date` (inclusive dates, YYYY-MM-DD) are required, `hourly` is a
comma-separated list of variables, `timezone` may be GMT or UTC. The answer is columnar: `hourly.time` holds
`2024-01-01T00:00`-style local times and each variable a list of the same length; errors are
`{"error": true, "reason": ...}` with status 400, as Open-Meteo sends them. Values come from `hourly_value`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from sample_api.protocol import Reply, Request

HOURLY_UNITS = {
    "temperature_2m": "°C",
    "relative_humidity_2m": "%",
    "precipitation": "mm",
    "wind_speed_10m": "km/h",
}
MAX_DAYS = 366
_TIMEZONES = ("GMT", "UTC")


class WeatherError(Exception):
    """An invalid request; its message is Open-Meteo's `reason`."""


def hourly_value(variable: str, latitude: float, longitude: float, moment: datetime) -> float:
    """The deterministic value of `variable` at `moment` (UTC) for the given place."""
    hours = (moment - datetime(2024, 1, 1, tzinfo=UTC)).total_seconds() / 3600
    daily = math.sin(2 * math.pi * (hours % 24) / 24)
    if variable == "temperature_2m":
        return round(10 - latitude / 10 + 5 * daily, 1)
    if variable == "relative_humidity_2m":
        return float(60 + round(20 * daily))
    if variable == "precipitation":
        return round(max(0.0, math.sin(hours / 7 + longitude)) * 2, 1)
    return round(12 + 8 * abs(math.cos(hours / 5)), 1)


def _coordinate(request: Request, name: str, limit: float) -> float:
    text = request.param(name)
    if text is None:
        raise WeatherError(f"Parameter '{name}' is required")
    try:
        value = float(text)
    except ValueError:
        raise WeatherError(f"Parameter '{name}' must be a number") from None
    if not -limit <= value <= limit:
        raise WeatherError(f"{name.capitalize()} must be in range of -{limit:g} to {limit:g}°. Given: {value}.")
    return value


def _date(request: Request, name: str) -> date:
    text = request.param(name)
    if text is None:
        raise WeatherError(f"Parameter '{name}' is required")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise WeatherError(f"Invalid date format. Make sure to use 'YYYY-MM-DD'. Parameter '{name}'") from None


def _archive(request: Request) -> dict:
    latitude = _coordinate(request, "latitude", 90)
    longitude = _coordinate(request, "longitude", 180)
    start, end = _date(request, "start_date"), _date(request, "end_date")
    if end < start or (end - start).days >= MAX_DAYS:
        raise WeatherError(f"Parameter 'end_date' is out of allowed range from {start} to {start + timedelta(366)}")
    timezone = request.param("timezone") or "GMT"
    if timezone not in _TIMEZONES:
        raise WeatherError(f"Invalid timezone: {timezone}")
    variables = [name for name in (request.param("hourly") or "").split(",") if name]
    unknown = [name for name in variables if name not in HOURLY_UNITS]
    if unknown:
        raise WeatherError(f"Cannot initialize WeatherVariable from invalid String value {unknown[0]}")
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    moments = [first + timedelta(hours=h) for h in range(((end - start).days + 1) * 24)]
    hourly: dict[str, list] = {"time": [moment.strftime("%Y-%m-%dT%H:%M") for moment in moments]}
    for name in variables:
        hourly[name] = [hourly_value(name, latitude, longitude, moment) for moment in moments]
    return {
        "latitude": latitude,
        "longitude": longitude,
        "generationtime_ms": 0.5,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 38.0,
        "hourly_units": {"time": "iso8601", **{name: HOURLY_UNITS[name] for name in variables}},
        "hourly": hourly,
    }


def archive(request: Request) -> Reply:
    """The hourly archive for the requested place and days."""
    try:
        return Reply(200, _archive(request), {"Content-Type": "application/json; charset=utf-8"})
    except WeatherError as error:
        return Reply(400, {"error": True, "reason": str(error)}, {"Content-Type": "application/json; charset=utf-8"})
