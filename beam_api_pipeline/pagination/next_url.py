"""Next-URL pagination: the answer holds the next page's URL in its body (`links.next`, `next`, `@odata.nextLink`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy


class NextUrlStrategy(PaginationStrategy):
    """The first page is the endpoint with `limit_param`; each next page is the URL at `next_url_path`
    (relative URLs are resolved against the page's own). Stops on a missing URL, or when `has_more_path` says
    so; an empty page with a next URL is followed."""

    follows_urls = True
    token_name = "next URL"

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        return {self.config.limit_param: self.config.page_size} if position.token is None else {}

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        if self._says_no_more(page):
            return None
        url = get_path(page.body, self.config.next_url_path)
        if not isinstance(url, str) or not url.strip():
            return None
        return self._advance(position, page, urljoin(page.url, url.strip()))
