"""An extractor that puts a `datetime` object into each row, which Beam can only pickle (tests only)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from beam_api_pipeline.extractors.rest import RestExtractor


class DatedExtractor(RestExtractor):
    def _transform_item(self, item: Any) -> Iterable[Any]:
        yield {**item, "seen_at": datetime(2024, 1, 1, tzinfo=UTC)}
