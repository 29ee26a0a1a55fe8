"""Page-number pagination: `?page=N&per_page=M`."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy
from beam_api_pipeline.paths import get_path


class PageNumberStrategy(PaginationStrategy):
    """Asks for page `start_page`, `start_page + 1`, ...; stops on an empty or short page, at `total_path`,
    or when `has_more_path` says so."""

    def first_position(self) -> PagePosition:
        return PagePosition(0, self.config.start_page)

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        return {self.config.page_param: position.token, self.config.size_param: self.config.page_size}

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        size = self.config.page_size
        if len(page.records) < size or self._says_no_more(page):
            return None
        total = get_path(page.body, self.config.total_path) if self.config.total_path else None
        if isinstance(total, int) and (position.index + 1) * size >= total:
            return None
        return PagePosition(position.index + 1, position.token + 1)
