"""The GitHub extractor: list endpoints of the GitHub REST API (issues, pulls, ...) of one repository.

GitHub pages with `Link` headers (`pagination.strategy: link_header`, `per_page` at most 100), takes a bearer
token, and bounds the list with `since` only (`watermark_field`): there is no end bound, so `window_end_field`
is refused, and records updated after the window's end come too and are left to the next window by the
in-window filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from beam_api_pipeline.client.api_client import ApiRequest
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.pagination import PagePosition

#: The largest `per_page` GitHub serves; a larger one is served as 100.
MAX_PAGE_SIZE = 100
#: The media type and API version GitHub recommends; `api_config.headers` may override them.
GITHUB_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubExtractor(BaseExtractor):
    """GitHub's headers, the window start as `since` (no end bound), and `is_pull_request` on each issue
    (GitHub's issues endpoints list pull requests too)."""

    @classmethod
    def request_problems(cls, config) -> list[str]:
        """A `window_end_field` (GitHub has no end bound: records after the window's end would come back as
        astray), and a page size above GitHub's cap (`MAX_PAGE_SIZE`), which GitHub would serve as 100 a page."""
        api = config.api_config
        problems = super().request_problems(config)
        if api.watermark.window_end_field:
            problems.append(
                f"api_config.watermark.window_end_field: GitHub's list endpoints take no end bound "
                f"({api.watermark.window_end_field!r} would not bound the window): leave it out"
            )
        sizes = {"api_config.pagination": api.pagination}
        sizes.update({f"api_config.endpoints.{name}.pagination": e.pagination for name, e in api.endpoints.items()})
        return problems + [
            f"{path}.page_size: {pagination.page_size} is above GitHub's cap of {MAX_PAGE_SIZE} records a page"
            for path, pagination in sizes.items()
            if pagination is not None and pagination.page_size > MAX_PAGE_SIZE
        ]

    def build_request(self, window: Window, position: PagePosition) -> ApiRequest:
        request = super().build_request(window, position)
        headers = {name: value for name, value in GITHUB_HEADERS.items() if name not in self.api.headers}
        return ApiRequest(request.method, request.url, request.params, request.json_body, headers)

    def _transform_item(self, item: Any) -> Iterable[Any]:
        if isinstance(item, dict) and "number" in item:
            yield {**item, "is_pull_request": "pull_request" in item}
        else:
            yield item
