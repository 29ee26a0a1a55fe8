"""The PaginationStrategy interface and the values it works with."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from beam_api_pipeline.core.paths import get_path

#: How many earlier pages' tokens a position remembers: a token that repeats any of them is a loop.
#: With the default `max_pages` (1000) that is the whole walk; longer walks are also stopped by `max_pages`.
TOKEN_HISTORY = 1024


def token_fingerprint(token: Any) -> int:
    """A short, process-independent digest of a position token (a cursor, a URL, a number); a signed 64-bit
    integer, which Beam's compiled coders encode as it is."""
    return int.from_bytes(hashlib.blake2b(repr(token).encode(), digest_size=8).digest(), "big", signed=True)


def record_count(value: Any) -> int | None:
    """`value` when it is a record count (an int >= 0, not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def effective_page_size(asked: int, served: int | None, total: int | None = None) -> int:
    """The size a read's pages after its first are asked for and counted in: the first page's length `served`
    when it is shorter than `asked` while the total (None: not announced) says more (the API's page cap),
    else `asked`. Walks and planned ranges share it, so that page numbers line up with the size served."""
    if served and served < asked and (total is None or served < total):
        return served
    return asked


@dataclass(frozen=True)
class WalkTally:
    """What one read of a window has seen before a page: the index of the read's first page (`start`), the
    records served before the page (`fetched`), the total the read's first page announced at `total_path`
    (`announced`, None when there is none), the largest page served so far (`size`: the effective page size,
    None before the first page), how many times the window was read again (`rereads`) and, in a walk without
    an end signal, a digest of the page before (`previous`, 0 when not kept)."""

    start: int = 0
    fetched: int = 0
    announced: int | None = None
    size: int | None = None
    rereads: int = 0
    previous: int = 0

    def to_values(self) -> tuple[int, int, int | None, int | None, int, int]:
        return (self.start, self.fetched, self.announced, self.size, self.rereads, self.previous)


@dataclass(frozen=True)
class PagePosition:
    """Where a page is: its 0-based index in the window's walk and the strategy's token for it.

    `seen` holds the fingerprints of the tokens of the pages before it (at most TOKEN_HISTORY, the most
    recent last), so that a loop is caught however long it is, while strategies stay stateless and a walk
    can still be checkpointed and resumed anywhere: the history travels with the position. So does `tally`,
    what the read of the window has seen before this page (`WalkTally`).
    """

    index: int
    token: Any = None
    seen: tuple[int, ...] = field(default=(), compare=False, repr=False)
    tally: WalkTally = field(default=WalkTally(), compare=False, repr=False)

    def advance(self, token: Any, tally: WalkTally | None = None) -> PagePosition:
        """The next page's position, whose token is `token` (and whose tally is `tally`, else this one's);
        this page's token joins the history."""
        seen = (*self.seen, token_fingerprint(self.token))[-TOKEN_HISTORY:]
        return PagePosition(self.index + 1, token, seen, self.tally if tally is None else tally)

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

    A walk ends on the API's own end signal (the total reached, `has_more` false, no next cursor or link,
    `hasNextPage` false), never on a short or empty page alone: a short page that announces more is the API's
    page cap, and the walk goes on. Only where the API gives no end signal at all (page numbers or offsets
    without `total_path` or `has_more_path`) does a page end the walk: an empty one, or one shorter than the
    largest page served before it (a first page shorter than asked may be the API's cap: the page after it is
    asked for, as dlt's `stop_after_empty_page` does), or one shorter than `page_size` that repeats the page
    before it (an endpoint that ignores the paging parameters answers every page alike: the repeat is not read,
    `repeats_previous`); a full page repeated fails the window (`ignored_paging`). A page asked for only to make
    sure the walk is over (`is_probe`) reads as empty when the API answers 404 there (`is_past_end`).
    """

    #: True when a position's token (after the first page) is the URL of the page to request.
    follows_urls = False
    #: What a token is, in messages ("cursor", "next URL").
    token_name = "cursor"
    #: True when records that move while the walk goes shift the pages after them (offsets, page numbers):
    #: such a walk compares the total announced at its start and end, and reads the window again when they differ.
    shifts = False

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

    def says_more(self, page: Page) -> str | None:
        """What in `page` says that more records follow it (`has_more_path` true), or None."""
        path = self.config.has_more_path
        if path and get_path(page.body, path, default=False):
            return f"{path} (has_more_path) is true"
        return None

    def total(self, page: Page) -> int | None:
        """The record count at `total_path` in `page`, None when not configured or not a count."""
        path = getattr(self.config, "total_path", None)
        return record_count(get_path(page.body, path)) if path else None

    def tally_after(self, position: PagePosition, page: Page) -> WalkTally:
        """The read's tally once `page` (at `position`) is counted: its records, the total the read's first
        page announced, and the effective page size."""
        tally = position.tally
        served = len(page.records)
        announced = self.total(page) if position.index == tally.start else tally.announced
        size = max(tally.size or 0, served) or None
        previous = 0 if self._has_end_signal(page) else token_fingerprint(page.records)
        return WalkTally(tally.start, tally.fetched + served, announced, size, tally.rereads, previous)

    def _has_end_signal(self, page: Page) -> bool:
        """Whether `page` tells where the walk ends: a total or a has-more flag (strategies that follow cursors
        or links end where there is none, and say so)."""
        path = self.config.has_more_path
        has_more = bool(path) and get_path(page.body, path, default=None) is not None
        return not self.shifts or has_more or self.total(page) is not None

    def repeats_previous(self, position: PagePosition, page: Page) -> bool:
        """Whether `page`, in a walk without an end signal, holds the same records as the page before it: the
        API ignores the paging parameters, and the walk ends before `page` (which is not read)."""
        tally = position.tally
        if self._has_end_signal(page) or position.index == tally.start or not page.records:
            return False
        return token_fingerprint(page.records) == tally.previous

    def paging_param(self) -> str:
        """The parameter that moves the walk from page to page, in messages."""
        return "the paging parameters"

    def ignored_paging(self, position: PagePosition, page: Page) -> str | None:
        """Why `page`, a repeat of the page before it (`repeats_previous`), cannot end the walk: that page was
        full, so the API ignores the paging parameter and the records after its first page are never served
        (None when the repeat is shorter than `page_size`: the last page, answered again)."""
        if len(page.records) < self.config.page_size or not self.repeats_previous(position, page):
            return None
        return (
            f"repeats page {position.index}, which was full: the API ignores {self.paging_param()}; "
            "configure the pagination the API documents"
        )

    def is_probe(self, position: PagePosition) -> bool:
        """Whether the page at `position` is asked for only to make sure the walk is over: the read's pages
        before it reached the total they announced on a full page (a total can be capped), or its first page
        was short without an end signal (it may be the API's page cap). Many APIs answer such a page past the
        end with 404 ("Invalid page."), which then reads as an empty page."""
        tally = position.tally
        if not self.shifts or position.index == tally.start:
            return False
        if tally.announced is not None:
            return tally.fetched >= tally.announced
        short_first = (tally.size or 0) < self.config.page_size
        return tally.previous != 0 and position.index == tally.start + 1 and short_first

    def is_full(self, position: PagePosition, page: Page) -> bool:
        """Whether `page` is as long as a page can be: the size asked for on the read's first page, the
        largest page served before it on the next ones."""
        expected = position.tally.size or self.config.page_size
        return len(page.records) >= expected

    def _ends_without_signal(self, position: PagePosition, page: Page) -> bool:
        """The fallback end of a walk whose API gives no end signal: an empty page, or a page shorter than the
        largest page served before it (a short first page may be the API's page cap)."""
        if not page.records or self.repeats_previous(position, page):
            return True
        return position.index > position.tally.start and not self.is_full(position, page)

    def _advance(self, position: PagePosition, page: Page, token: Any) -> PagePosition:
        """The position after `page` whose token is `token`, with `page` counted in its tally."""
        return position.advance(token, self.tally_after(position, page))

    def reread(self, position: PagePosition) -> PagePosition:
        """The first page of the window, read again after `position`: a new read (its tally starts afresh,
        counting one more reread) whose page indices go on from `position`'s, so that claims stay in order."""
        tally = WalkTally(start=position.index + 1, rereads=position.tally.rereads + 1)
        return PagePosition(position.index + 1, self.first_position().token, (), tally)


class SinglePage(PaginationStrategy):
    """Pagination disabled: one request per window."""

    def request_params(self, position: PagePosition) -> dict[str, Any]:
        return {}

    def next_position(self, position: PagePosition, page: Page) -> PagePosition | None:
        return None


#: The status of a page past the end where many APIs answer "Invalid page." (Django REST Framework's
#: PageNumberPagination, Flask-SQLAlchemy's paginate()). Other statuses stay failures: Elasticsearch answers 400
#: past its cap, where records remain.
PAST_END_STATUS = 404


def is_past_end(error: Exception) -> bool:
    """Whether `error`, the failure of a page asked for only to make sure a read is over (`is_probe`), says the
    page is past the end: the page then reads as empty (`past_end_page`)."""
    return getattr(error, "status", None) == PAST_END_STATUS


def past_end_page(url: str) -> Page:
    """The empty page a page past the end reads as."""
    return Page(body={}, headers={}, records=[], url=url)
