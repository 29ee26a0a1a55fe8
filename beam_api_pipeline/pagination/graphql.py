"""GraphQL (Relay) pagination: `pageInfo { hasNextPage endCursor }`, the cursor passed as a variable."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy


class GraphqlStrategy(PaginationStrategy):
    """Reads `hasNextPage` and `endCursor` from the object at `page_info_path` and passes the cursor as the
    variable `cursor_param` (`after` in Relay's convention). Stops on `hasNextPage: false` or a missing
    cursor; an empty page with `hasNextPage: true` is followed. The page size is the query's own variable
    (`first`), set in `variables`."""

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        return {} if position.token is None else {self.config.cursor_param: position.token}

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        info = get_path(page.body, self.config.page_info_path)
        if not isinstance(info, dict) or not info.get("hasNextPage"):
            return None
        cursor = info.get("endCursor")
        if cursor is None or cursor == "":
            return None
        return self._advance(position, page, cursor)

    def says_more(self, page: Page) -> str | None:
        info = get_path(page.body, self.config.page_info_path)
        if isinstance(info, dict) and info.get("hasNextPage"):
            return f"{self.config.page_info_path}.hasNextPage is true"
        return super().says_more(page)
