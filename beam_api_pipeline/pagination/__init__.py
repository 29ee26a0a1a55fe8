"""Pagination strategies: how to ask for the next page, and when a window's walk is over."""

from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.pagination.base import Page, PagePosition, PaginationStrategy, SinglePage
from beam_api_pipeline.pagination.cursor import CursorStrategy
from beam_api_pipeline.pagination.graphql import GraphqlStrategy
from beam_api_pipeline.pagination.link_header import LinkHeaderStrategy, link_targets
from beam_api_pipeline.pagination.next_url import NextUrlStrategy
from beam_api_pipeline.pagination.offset import OffsetStrategy
from beam_api_pipeline.pagination.page_number import PageNumberStrategy

STRATEGIES: dict[str, type[PaginationStrategy]] = {
    "page_number": PageNumberStrategy,
    "offset": OffsetStrategy,
    "cursor": CursorStrategy,
    "link_header": LinkHeaderStrategy,
    "next_url": NextUrlStrategy,
    "graphql": GraphqlStrategy,
}


def create_strategy(config) -> PaginationStrategy:
    """The strategy for a PaginationConfig (a single page when pagination is disabled)."""
    if not config.enabled:
        return SinglePage(config)
    strategy = STRATEGIES.get(config.strategy)
    if strategy is None:
        raise ConfigError(f"api_config.pagination.strategy: {config.strategy!r} is not a known strategy")
    return strategy(config)


__all__ = [
    "STRATEGIES",
    "CursorStrategy",
    "GraphqlStrategy",
    "LinkHeaderStrategy",
    "NextUrlStrategy",
    "OffsetStrategy",
    "Page",
    "PageNumberStrategy",
    "PagePosition",
    "PaginationStrategy",
    "SinglePage",
    "create_strategy",
    "link_targets",
]
