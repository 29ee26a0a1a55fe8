"""The PaginationStrategy interface and the values it works with."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from beam_api_pipeline.paths import get_path

#: How many earlier pages' tokens a position remembers: a token that repeats any of them is a loop.
#: With the default `max_pages` (1000) that is the whole walk; longer walks are also stopped by `max_pages`.
TOKEN_HISTORY = 1024


def token_fingerprint(token: Any) -> int:
    """A short, process-independent digest of a position token (a cursor, a URL, a number); a signed 64-bit
    integer, which Beam's compiled coders encode as it is."""
    return int.from_bytes(hashlib.blake2b(repr(token).encode(), digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True)
class PagePosition:
    """Where a page is: its 0-based index in the window's walk and the strategy's token for it.

    `seen` holds the fingerprints of the tokens of the pages before it (at most TOKEN_HISTORY, the most
    recent last), so that a loop is caught however long it is, while strategies stay stateless and a walk
    can still be checkpointed and resumed anywhere: the history travels with the position.
    """

    index: int
    token: Any = None
    seen: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def advance(self, token: Any) -> PagePosition:
        """The next page's position, whose token is `token`; this page's token joins the history."""
        seen = (*self.seen, token_fingerprint(self.token))[-TOKEN_HISTORY:]
        return PagePosition(self.index + 1, token, seen)

    def repeated_page(self) -> int | None:
        """The 1-based number of an earlier page whose token this position repeats, or None."""
        fingerprint = token_fingerprint(self.token)
        for back, earlier in enumerate(reversed(self.seen), start=1):
            if earlier == fingerprint:
                return self.index - back + 1
        return None


@dataclass(frozen=True)
class Page:
    """One answer of the API: the decoded body, the headers, the records found in it, and its URL."""

    body: Any
    headers: Mapping[str, str]
    records: list[Any]
    url: str = ""

    def header(self, name: str) -> str | None:
        """The value of header `name`, whatever its case."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class PaginationStrategy:
    """Computes each page's request parameters and the position of the next page.

    Strategies are stateless: everything about the walk is in the PagePosition, so a walk can be
    checkpointed and resumed anywhere. A strategy whose tokens are URLs (`follows_urls`) has the next page
    requested at its token's URL.
    """

    #: True when a position's token (after the first page) is the URL of the page to request.
    follows_urls = False
    #: What a token is, in messages ("cursor", "next URL").
    token_name = "cursor"

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
