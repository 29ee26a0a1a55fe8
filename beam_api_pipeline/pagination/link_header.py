"""Link-header pagination (RFC 8288): `Link: <https://api.github.com/...&page=2>; rel="next", <...>; rel="last"`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy

_LINK_VALUE = re.compile(r'<(?P<url>[^>]*)>(?P<params>(?:\s*;\s*[^;,=\s]+(?:\s*=\s*(?:"[^"]*"|[^;,]*))?)*)')
_LINK_PARAM = re.compile(r';\s*(?P<name>[^;,=\s]+)(?:\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<token>[^;,]*)))?')


def link_targets(header: str, rel: str) -> list[str]:
    """The URLs of the links in a `Link` header value whose `rel` includes `rel` (case-insensitive)."""
    found = []
    for link in _LINK_VALUE.finditer(header):
        for param in _LINK_PARAM.finditer(link["params"]):
            value = param["quoted"] if param["quoted"] is not None else (param["token"] or "")
            if param["name"].lower() == "rel" and rel.lower() in value.lower().split():
                found.append(link["url"].strip())
    return found


class LinkHeaderStrategy(PaginationStrategy):
    """The first page is the endpoint with `size_param` (`per_page`, as GitHub names it); each next page is
    the `rel="next"` URL of the `Link` header. Stops when there is no next link (or `has_more_path` says so);
    an empty page with a next link is followed."""

    follows_urls = True
    token_name = "next URL"

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        return {self.config.size_param: self.config.page_size} if position.token is None else {}

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        header = page.header("Link")
        if not header or self._says_no_more(page):
            return None
        targets = link_targets(header, "next")
        if not targets:
            return None
        return self._advance(position, page, urljoin(page.url, targets[0]))
