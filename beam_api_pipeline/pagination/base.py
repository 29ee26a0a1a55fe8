"""The PaginationStrategy interface and the values it works with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from beam_api_pipeline.paths import get_path


@dataclass(frozen=True)
class PagePosition:
    """Where a page is: its 0-based index in the window's walk and the strategy's token for it."""

    index: int
    token: Any = None


@dataclass(frozen=True)
class Page:
    """One answer of the API: the decoded body, the headers, and the records found in it."""

    body: Any
    headers: Mapping[str, str]
    records: list[Any]


class PaginationStrategy:
    """Computes each page's request parameters and the position of the next page.

    Strategies are stateless: everything about the walk is in the PagePosition, so a walk can be
    checkpointed and resumed anywhere.
    """

    def __init__(self, config: Any):
        self.config = config

    def first_position(self) -> PagePosition:
        """The position of a window's first page."""
        return PagePosition(0)

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        """Query parameters (or GraphQL variables) that ask for the page at `position`."""
        raise NotImplementedError

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        """The next page's position, or None when `page` was the last one."""
        raise NotImplementedError

    def _says_no_more(self, page: Page) -> bool:
        """True when `has_more_path` is configured and the page says there is nothing after it."""
        path = self.config.has_more_path
        return bool(path) and not get_path(page.body, path, default=False)


class SinglePage(PaginationStrategy):
    """Pagination disabled: one request per window."""

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        return {}

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        return None
