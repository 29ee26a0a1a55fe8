"""A stand-in for window-bound templates (issue 27, item 6) until they land: fills `{window_start:FORMAT}` and
`{window_end:FORMAT}` in the endpoint's `filter` parameter (strftime, plus `%3f` for milliseconds).

Once `params` templates are in the package, the PocketBase configs here drop `extractor_class` and nothing else.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.windowing import Window

_PLACEHOLDER = re.compile(r"\{(window_start|window_end):([^{}]*)\}")


def write_time(moment: datetime, time_format: str) -> str:
    """`moment` in the strftime `time_format`, where `%3f` stands for its milliseconds."""
    return moment.strftime(time_format.replace("%3f", f"{moment.microsecond // 1000:03d}"))


class FilterTemplateExtractor(BaseExtractor):
    """The REST extractor, with both window bounds written into the `filter` parameter."""

    def window_params(self, window: Window) -> dict[str, Any]:
        bounds = {"window_start": window.fetch_start, "window_end": window.end}
        text = _PLACEHOLDER.sub(lambda m: write_time(bounds[m[1]], m[2]), self.endpoint.params["filter"])
        return {**super().window_params(window), "filter": text}
