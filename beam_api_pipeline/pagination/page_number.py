"""Page-number pagination: `?page=N&per_page=M`."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy, effective_page_size


class PageNumberStrategy(PaginationStrategy):
    """Asks for page `start_page`, `start_page + 1`, ...; stops when `has_more_path` says so, when the records
    served reach the count at `total_path` on a page that is not full (a full page there is followed by one
    more: a total can be capped, Elasticsearch-style), on an empty page when the API gives a total (the pages
    after it are empty too), and without either signal on the fallback end (`_ends_without_signal`). A short
    page that announces more is the API's page cap: the walk goes on. An empty page while `has_more_path` says
    more is followed (`max_pages` bounds it)."""

    shifts = True

    def first_position(self) -> PagePosition:
        return PagePosition(0, self.config.start_page)

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        """Page `position.token` in pages of the size the read's first page was served with (the API's page cap,
        `effective_page_size`): from its second page, so that page numbers count pages of that size."""
        tally, size = position.tally, self.config.page_size
        if position.index > tally.start:
            size = effective_page_size(size, tally.size, tally.announced)
        return {self.config.page_param: position.token, self.config.size_param: size}

    def paging_param(self) -> str:
        return f"page_param {self.config.page_param!r}"

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        if self._says_no_more(page):
            return None
        total = self.total(page)
        if total is not None:
            served = self.tally_after(position, page).fetched
            if not page.records or (served >= total and not self.is_full(position, page)):
                return None
        elif not self.config.has_more_path and self._ends_without_signal(position, page):
            return None
        return self._advance(position, page, position.token + 1)
