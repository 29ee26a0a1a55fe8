"""The weather extractor: the Open-Meteo historical archive API (https://open-meteo.com/en/docs/historical-weather-api).

One request per window, no key, no pages: `latitude`, `longitude` and `hourly` come from the endpoint's
`params`, the window from `start_date` / `end_date` (inclusive dates: `watermark.time_format: date`,
`end_inclusive: true`). The answer is columnar (`hourly: {time: [...], temperature_2m: [...]}`);
`_transform_item` turns it into one row per hour, its `time` in UTC ISO 8601.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from beam_api_pipeline.client.api_client import ApiResponse
from beam_api_pipeline.core.errors import PaginationError
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.pagination import Page, SinglePage

#: Fields of the answer copied onto every hourly row.
PLACE_FIELDS = ("latitude", "longitude", "elevation")


def hourly_rows(answer: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """One row per hour of an Open-Meteo answer: `time` (UTC), the place, and each hourly variable."""
    hourly = answer.get("hourly") or {}
    times = hourly.get("time") or []
    offset = timedelta(seconds=answer.get("utc_offset_seconds") or 0)
    variables = [name for name in hourly if name != "time"]
    place = {name: answer[name] for name in PLACE_FIELDS if name in answer}
    for index, local_time in enumerate(times):
        moment = datetime.fromisoformat(local_time).replace(tzinfo=UTC) - offset
        row = {"time": format_utc(moment), **place}
        for name in variables:
            values = hourly[name]
            row[name] = values[index] if index < len(values) else None
        yield row


class WeatherExtractor(BaseExtractor):
    """Open-Meteo's archive: one request per window (pagination does not apply), one row per hour."""

    def __init__(self, config, endpoint: str):
        super().__init__(config, endpoint)
        self.pagination = SinglePage(self.api.pagination_for(endpoint))

    def read_page(self, response: ApiResponse) -> Page:
        body = response.body
        if not isinstance(body, dict) or not isinstance(body.get("hourly"), dict):
            raise PaginationError(f"{self.endpoint_name}: the answer has no 'hourly' object; add hourly= to params")
        return Page(body, response.headers, [body], response.url)

    def _transform_item(self, item: Any) -> Iterable[Any]:
        yield from hourly_rows(item)
