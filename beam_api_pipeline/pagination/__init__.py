"""Pagination strategies: how to ask for the next page, and when a window's walk is over."""

from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy, SinglePage
from beam_api_pipeline.pagination.cursor import CursorStrategy
from beam_api_pipeline.pagination.page_number import PageNumberStrategy

STRATEGIES: dict[str, type[PaginationStrategy]] = {
    "page_number": PageNumberStrategy,
    "cursor": CursorStrategy,
}


def create_strategy(config) -> PaginationStrategy:
    """The strategy for a PaginationConfig (a single page when pagination is disabled)."""
    if not config.enabled:
        return SinglePage(config)
    strategy = STRATEGIES.get(config.strategy)
    if strategy is None:
        raise NotImplementedError(f"pagination strategy {config.strategy!r} is not available yet")
    return strategy(config)


__all__ = [
    "STRATEGIES",
    "CursorStrategy",
    "Page",
    "PageNumberStrategy",
    "PagePosition",
    "PaginationStrategy",
    "SinglePage",
    "create_strategy",
]
