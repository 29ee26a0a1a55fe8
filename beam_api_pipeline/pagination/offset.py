"""Offset pagination: `?offset=N&limit=M`."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy
from beam_api_pipeline.paths import get_path


class OffsetStrategy(PaginationStrategy):
    """Asks for `page_size` records from offset 0, `page_size`, ...; stops on an empty or short page, when the
    next offset reaches the count at `total_path`, or when `has_more_path` says so."""

    def first_position(self) -> PagePosition:
        return PagePosition(0, 0)

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        return {self.config.offset_param: position.token, self.config.limit_param: self.config.page_size}

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        size = self.config.page_size
        if len(page.records) < size or self._says_no_more(page):
            return None
        next_offset = position.token + size
        total = get_path(page.body, self.config.total_path) if self.config.total_path else None
        if isinstance(total, int) and next_offset >= total:
            return None
        return PagePosition(position.index + 1, next_offset)
