"""FetchRange: the splittable DoFn that fetches a window's pages as a range of page indices, several at a time.

The restriction is an OffsetRange of page indices (`page_range`): it starts split into the RangeTask's parts,
and a runner can split it again at any fraction while it runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import apache_beam as beam

from beam_api_pipeline.packing import unpack
from beam_api_pipeline.parallel import RangeElement, RangePaging, RangeTask
from beam_api_pipeline.transforms.concurrency import RequestPool
from beam_api_pipeline.transforms.page_range import PageRangeProvider
from beam_api_pipeline.transforms.window_fetch import Deferral, WindowFetchDoFn, WindowPart

_RANGE = beam.DoFn.RestrictionParam(PageRangeProvider())


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
        yield from self._fetch(ranged, part, tracker)
        self._count_split(part, initial, tracker)

    def _fetch(self, ranged: RangeTask, part: WindowPart, tracker) -> Iterator[object]:
        if ranged.error is not None:
            yield self._failed(_claim_the_rest(tracker, tracker.current_restriction().start), part, ranged.error)
            return
        task = part.task
        extractor, paging = self._extractors[task.endpoint], self._paging[task.endpoint]
        on_retry = self._on_retry(part)
        pending: deque[tuple[int, Future]] = deque()
        next_index = tracker.current_restriction().start

        def fill() -> None:
            nonlocal next_index
            while len(pending) < self._pool.width and next_index < tracker.current_restriction().stop:
                if next_index == 0:
                    first: Future = Future()
                    first.set_result(unpack(ranged.first_page))
                    pending.append((0, first))
                else:
                    future = self._pool.submit(self._page_records, ranged, paging, next_index, on_retry)
                    pending.append((next_index, future))
                next_index += 1

        try:
            fill()
            while pending:
                index, future = pending.popleft()
                try:
                    records = future.result()
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

    def _page_records(self, ranged: RangeTask, paging: RangePaging, index: int, on_retry) -> list[Any]:
        self._check_pause()
        return self._fetch_range_page(ranged.task, paging, index, on_retry).records


def _claim_the_rest(tracker, index: int) -> bool:
    """Claim page `index` and, when it is ours, every page after it: a part that fails gives up the rest of its
    range (which `check_done` then finds claimed). False when a split already handed `index` on."""
    if not tracker.try_claim(index):
        return False
    last = tracker.current_restriction().stop - 1
    if last > index:
        tracker.try_claim(last)
    return True
