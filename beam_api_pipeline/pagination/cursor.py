"""Cursor pagination: each answer carries the cursor that asks for the next page."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy


class CursorStrategy(PaginationStrategy):
    """Sends the cursor found at `cursor_path` (list indices allowed: `data.-1.id`, Stripe's `starting_after`
    style) as `cursor_param`, and `page_size` as `limit_param`; stops on a missing cursor, or when
    `has_more_path` says so. An empty page with a cursor is followed (Slack sends such pages). A cursor that
    repeats an earlier page's is caught by the extractor."""

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        params: dict[str, Any] = {self.config.limit_param: self.config.page_size}
        if position.token is not None:
            params[self.config.cursor_param] = position.token
        return params

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        if self._says_no_more(page):
            return None
        cursor = get_path(page.body, self.config.cursor_path)
        if cursor is None or cursor == "":
            return None
        return self._advance(position, page, cursor)
