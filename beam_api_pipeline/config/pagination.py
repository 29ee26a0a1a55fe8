"""How an endpoint's pages are walked: ``api_config.pagination``."""

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from .base import StrictModel, rule_error

PaginationStrategyName = Literal["page_number", "offset", "cursor", "link_header", "next_url", "graphql"]

#: The response path each strategy cannot work without.
_REQUIRED_PATH = {"cursor": "cursor_path", "next_url": "next_url_path", "graphql": "page_info_path"}


class PaginationConfig(StrictModel):
    """One strategy and its parameters.

    Paths into a response are dotted (``meta.next_cursor``, ``data.-1.id``); ``max_pages`` is a safety
    stop per window (reaching it is reported, not silent).
    """

    enabled: bool = True
    strategy: PaginationStrategyName = "page_number"
    page_size: int = Field(100, gt=0)
    max_pages: int = Field(1000, gt=0)
    page_param: str = "page"
    size_param: str = "per_page"
    start_page: int = Field(1, ge=0)
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    cursor_path: str | None = None
    has_more_path: str | None = None
    next_url_path: str | None = None
    total_path: str | None = None
    page_info_path: str | None = None

    @model_validator(mode="after")
    def _strategy_has_its_path(self) -> Self:
        required = _REQUIRED_PATH.get(self.strategy)
        if self.enabled and required and not getattr(self, required):
            raise rule_error(f"required when strategy is {self.strategy}", required)
        return self

    @classmethod
    def with_page_numbers(cls, page_size: int = 100, **kwargs: Any) -> Self:
        """``?page=N&per_page=page_size``."""
        return cls(strategy="page_number", page_size=page_size, **kwargs)

    @classmethod
    def with_cursor(cls, cursor_path: str, cursor_param: str = "cursor", **kwargs: Any) -> Self:
        """The next cursor is read from ``cursor_path`` and sent as ``cursor_param``."""
        return cls(strategy="cursor", cursor_path=cursor_path, cursor_param=cursor_param, **kwargs)

    @classmethod
    def with_offset(cls, page_size: int = 100, **kwargs: Any) -> Self:
        """``?offset=N&limit=page_size``."""
        return cls(strategy="offset", page_size=page_size, **kwargs)

    @classmethod
    def with_link_header(cls, **kwargs: Any) -> Self:
        """The next page's URL is the ``rel="next"`` entry of the ``Link`` header."""
        return cls(strategy="link_header", **kwargs)

    @classmethod
    def with_next_url(cls, next_url_path: str, **kwargs: Any) -> Self:
        """The next page's URL is read from ``next_url_path`` in the body."""
        return cls(strategy="next_url", next_url_path=next_url_path, **kwargs)

    @classmethod
    def with_graphql(cls, page_info_path: str, cursor_param: str = "after", **kwargs: Any) -> Self:
        """Relay ``pageInfo { hasNextPage endCursor }`` at ``page_info_path``; the cursor goes in ``cursor_param``."""
        return cls(strategy="graphql", page_info_path=page_info_path, cursor_param=cursor_param, **kwargs)
