"""FetchRange: the splittable DoFn that fetches a window's pages as a range of page indices, several at a time.

The restriction is an OffsetRange of page indices (`page_range`): it starts split into the RangeTask's parts,
and a runner can split it again at any fraction while it runs. Pages are asked for in the size the window's
first page was served with, and each is held to the plan (`parallel.range_page_problem`): one that does not
match it fails the window, as does a planned last page that comes back full when the page after it has records
(a 404 there is the API's answer past its end: no records).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import apache_beam as beam

from beam_api_pipeline.core.errors import ApiError, PaginationError
from beam_api_pipeline.core.packing import unpack_any
from beam_api_pipeline.fetch.concurrency import RequestPool
from beam_api_pipeline.fetch.range_restriction import PageRangeProvider
from beam_api_pipeline.fetch.range_rules import (
    RangeElement,
    RangePaging,
    RangeTask,
    past_total_problem,
    range_page_problem,
)
from beam_api_pipeline.fetch.window_fetch import Deferral, WindowFetchDoFn, WindowPart
from beam_api_pipeline.pagination.base import is_past_end

_RANGE = beam.DoFn.RestrictionParam(PageRangeProvider())
#: A fetched page of a range: its records and the total it announced.
Fetched = tuple[list[Any], int | None]


class FetchRangeFn(WindowFetchDoFn):
    """Fetches a part of a window's page range up to `pages_in_flight` pages at a time, claiming and emitting
    them in order; pages fetched beyond a split point are dropped (their new owner fetches them)."""

    def setup(self) -> None:
        super().setup()
        widths = [paging.pages_in_flight for paging in self._paging.values() if paging is not None]
        self._pool = RequestPool(min(max(widths), self._max_concurrent), "fetch-pages")

    def teardown(self) -> None:
        self._pool.close()
        super().teardown()

    def process(self, element: RangeElement, tracker=_RANGE) -> Iterator[object]:
        initial = tracker.current_restriction()
        ranged = RangeTask.from_element(element)
        part = WindowPart(ranged.task, initial.start, self._client.redact)
        part.window_pages = ranged.stop
        part.saw(ranged.announced, ranged.page_size or None)
        yield from self._fetch(ranged, part, tracker)
        self._count_split(part, initial, tracker)

    def _fetch(self, ranged: RangeTask, part: WindowPart, tracker) -> Iterator[object]:
        if ranged.error is not None:
            yield self._failed(_claim_the_rest(tracker, tracker.current_restriction().start), part, ranged.error)
            return
        task = part.task
        extractor = self._extractors[task.endpoint]
        paging = dataclasses.replace(self._paging[task.endpoint], page_size=ranged.page_size)
        on_retry = self._on_retry(part)
        pending: deque[tuple[int, Future]] = deque()
        next_index = tracker.current_restriction().start

        def fill() -> None:
            nonlocal next_index
            while len(pending) < self._pool.width and next_index < tracker.current_restriction().stop:
                if next_index == 0:
                    first: Future = Future()
                    first.set_result((unpack_any(ranged.first_page), ranged.announced))
                    pending.append((0, first))
                else:
                    future = self._pool.submit(self._page, ranged, paging, next_index, on_retry)
                    pending.append((next_index, future))
                next_index += 1

        try:
            fill()
            while pending:
                index, future = pending.popleft()
                try:
                    records, total = future.result()
                    self._check_plan(ranged, paging, index, len(records), total, on_retry)
                except Deferral as deferral:
                    yield self._defer(tracker, part, deferral)
                    return
                except Exception as error:
                    yield self._failed(_claim_the_rest(tracker, index), part, error)
                    return
                if not tracker.try_claim(index):
                    break  # a split handed this page and the rest to another part
                part.claimed(index)
                yield from self._emit(extractor, part, records)
                fill()
        finally:
            for _, future in pending:
                future.cancel()
        # The part with page 0 speaks for a window cut short by max_pages (the range stops there).
        yield self._truncated(part) if ranged.truncated and part.first_page == 0 else self._done(part)

    def _page(self, ranged: RangeTask, paging: RangePaging, index: int, on_retry) -> Fetched:
        """Page `index`'s records and the total it announced."""
        self._check_pause()
        page = self._fetch_range_page(ranged.task, paging, index, on_retry)
        return page.records, paging.total(page.body)

    def _check_plan(
        self, ranged: RangeTask, paging: RangePaging, index: int, served: int, total: int | None, on_retry
    ) -> None:
        """Raise PaginationError when page `index` does not match the plan, or when it is the planned last page,
        came back full, and the page after it has records."""
        problem = range_page_problem(ranged, index, served, total)
        last = index == ranged.stop - 1 and not ranged.truncated
        if problem is None and last and ranged.page_size and served >= ranged.page_size:
            problem = past_total_problem(ranged, self._served_past_plan(ranged, paging, on_retry))
        if problem is not None:
            extractor = self._extractors[ranged.task.endpoint]
            raise PaginationError(f"{extractor.where(ranged.task.window, index)}: {problem}")

    def _served_past_plan(self, ranged: RangeTask, paging: RangePaging, on_retry) -> int:
        """How many records the page after the planned last one serves: a 404 there is the API's answer past
        its end (`is_past_end`), no records."""
        try:
            return len(self._page(ranged, paging, ranged.stop, on_retry)[0])
        except ApiError as error:
            if is_past_end(error):
                return 0
            raise


def _claim_the_rest(tracker, index: int) -> bool:
    """Claim page `index` and, when it is ours, every page after it: a part that fails gives up the rest of its
    range (which `check_done` then finds claimed). False when a split already handed `index` on."""
    if not tracker.try_claim(index):
        return False
    last = tracker.current_restriction().stop - 1
    if last > index:
        tracker.try_claim(last)
    return True
