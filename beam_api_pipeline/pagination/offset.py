"""Offset pagination: `?offset=N&limit=M`."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy


class OffsetStrategy(PaginationStrategy):
    """Asks for `page_size` records from offset 0; each next offset is advanced by the records the page
    actually served (an API that caps its pages serves fewer than asked). Stops when `has_more_path` says so,
    on an empty page (nothing more at that offset: whether the API announced more is the extractor's check),
    when the next offset reaches the count at `total_path` on a page that is not full (a full page there is
    followed by one more: a total can be capped, Elasticsearch-style), and without either signal on the
    fallback end (`_ends_without_signal`)."""

    shifts = True

    def first_position(self) -> PagePosition:
        return PagePosition(0, 0)

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        return {self.config.offset_param: position.token, self.config.limit_param: self.config.page_size}

    def paging_param(self) -> str:
        return f"offset_param {self.config.offset_param!r}"

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        if not page.records or self._says_no_more(page):
            return None
        next_offset = position.token + len(page.records)
        total = self.total(page)
        if total is not None and next_offset >= total and not self.is_full(position, page):
            return None
        if total is None and not self.config.has_more_path and self._ends_without_signal(position, page):
            return None
        return self._advance(position, page, next_offset)
