"""What the two fetch DoFns share: counting a part of a window's walk, emitting its rows in batches, its
WindowResult, and turning a long Retry-After into a deferral where the runner honours `defer_remainder`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from apache_beam import pvalue
from apache_beam.utils.timestamp import Duration

from beam_api_pipeline.client.validators import KeptValidators
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.errors import RateLimitedError
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.fetch.api_dofn import ApiDoFn
from beam_api_pipeline.pagination import Page
from beam_api_pipeline.plan.run_plan import TaskElement, WindowResult, WindowStatus, WindowTask

logger = logging.getLogger(__name__)

#: The output of WindowResults (one per part of a walk); the main output is `(task, rows)` batches.
RESULTS = "window_results"
#: A 429 asking to wait longer than this (seconds) checkpoints the walk where the runner can resume it later.
DEFER_AFTER_SECONDS = 5.0


class Deferral(Exception):
    """The API asked for a wait long enough to checkpoint rather than sleep."""

    def __init__(self, seconds: float):
        super().__init__(f"deferred for {seconds:.0f}s")
        self.seconds = seconds


def log_fields(task: WindowTask) -> dict[str, str]:
    """The fields a JSON log line carries about a window (see logging_setup)."""
    return {"endpoint": task.endpoint, "window": task.window.label()}


class WindowPart:
    """One part of a window's walk: the pages it claimed, `[first_page, end_page)`, its counts, and its
    WindowResult. `window_pages` is the window's number of pages once known."""

    def __init__(self, task: WindowTask, first_page: int, redact: Callable[[str], str]):
        self.task = task
        self.element: TaskElement = task.to_element()
        self.first_page = self.end_page = first_page
        self.window_pages: int | None = None
        self.announced_total: int | None = None
        self.page_size: int | None = None
        self.pages = self.records = self.retries = self.rate_limited = 0
        self.deferred = False
        #: `(request key, ETag, Last-Modified)` of a walk its first answer completed (`conditional`)
        self.validators: KeptValidators = ()
        self._redact = redact
        self._started = time.monotonic()
        self._ended: float | None = None
        self._lock = threading.Lock()  # retries are counted from the request pool's threads

    def saw(self, announced_total: int | None, page_size: int | None) -> None:
        """The window's announced total and effective page size, as the pages so far tell them."""
        self.announced_total = announced_total
        self.page_size = page_size

    def claimed(self, index: int) -> None:
        """Page `index` is this part's (its claim succeeded)."""
        self.end_page = index + 1

    def count_retry(self, error: BaseException, _wait: float) -> None:
        rate_limited = isinstance(error, RateLimitedError)
        if rate_limited:
            metrics.endpoint_rate_limited(self.task.endpoint).inc()
        with self._lock:
            self.retries += 1
            self.rate_limited += rate_limited

    def stop_clock(self) -> None:
        """The part's fetching ends now, though its result is emitted later (a child task waiting its turn)."""
        self._ended = time.monotonic()

    def result(self, status: WindowStatus, error: BaseException | str | None = None) -> pvalue.TaggedOutput:
        message = self._redact(str(error)) if error else None
        error_type = None if error is None or isinstance(error, str) else type(error).__name__
        seconds = round((self._ended or time.monotonic()) - self._started, 3)
        metrics.FETCH_MSECS.inc(int(seconds * 1000))
        result = WindowResult(
            self.task,
            status,
            self.pages,
            self.records,
            self.retries,
            message,
            error_type,
            seconds,
            self.first_page,
            self.end_page,
            self.window_pages,
            self.announced_total,
            self.page_size,
            self.rate_limited,
            self.validators,
        )
        return pvalue.TaggedOutput(RESULTS, result.to_element())


class WindowFetchDoFn(ApiDoFn):
    """The base of the splittable fetch DoFns: rows out in `(task, rows)` batches, a WindowResult per part."""

    def _on_retry(self, part: WindowPart) -> Callable[[BaseException, float], None]:
        """Counts retries; where the runner honours it, turns a long Retry-After into a deferral."""

        def on_retry(error: BaseException, wait: float) -> None:
            part.count_retry(error, wait)
            if self._profile.can_defer and isinstance(error, RateLimitedError) and wait > DEFER_AFTER_SECONDS:
                raise Deferral(wait)

        return on_retry

    def _check_pause(self) -> None:
        """Raise Deferral when the API asked every request to wait long enough to checkpoint instead."""
        paused = self._limits.paused_for()
        if self._profile.can_defer and paused > DEFER_AFTER_SECONDS:
            raise Deferral(paused)

    def _defer(self, tracker, part: WindowPart, deferral: Deferral) -> pvalue.TaggedOutput:
        tracker.defer_remainder(Duration.of(deferral.seconds))
        part.deferred = True
        metrics.DEFERRED_REMAINDERS.inc()
        task = part.task
        logger.info("%s %s: %s", task.endpoint, task.label(), deferral, extra=log_fields(task))
        return part.result(WindowStatus.PARTIAL)

    def _emit(self, extractor: BaseExtractor, part: WindowPart, records: list[Any]) -> Iterator[tuple]:
        """A page's rows in `(task, rows)` batches of at most `batch_size`: downstream steps work a batch at a
        time. Each batch is a new list."""
        part.pages += 1
        metrics.PAGES.inc()
        rows = list(extractor.records(Page(None, {}, records)))
        part.records += len(rows)
        metrics.RECORDS_FETCHED.inc(len(records))
        for start in range(0, len(rows), self._batch_size):
            yield part.element, rows[start : start + self._batch_size]

    def _done(self, part: WindowPart) -> pvalue.TaggedOutput:
        if part.task.parent is not None:
            metrics.CHILD_TASKS_SUCCEEDED.inc()  # a child task is walked whole, by one part
            return part.result(WindowStatus.DONE)
        if part.window_pages is not None and part.end_page >= part.window_pages:
            metrics.WINDOWS_SUCCEEDED.inc()  # counted once per window: by the part with its last page
        metrics.RECORDS_PER_WINDOW.update(part.records)
        return part.result(WindowStatus.DONE)

    def _truncated(self, part: WindowPart) -> pvalue.TaggedOutput:
        metrics.MAX_PAGES_REACHED.inc()
        task = part.task
        max_pages = self._max_pages[task.endpoint]
        logger.warning("%s %s: max_pages (%d) reached", task.endpoint, task.label(), max_pages, extra=log_fields(task))
        return part.result(
            WindowStatus.TRUNCATED, RuntimeError(f"max_pages ({max_pages}) reached before the last page")
        )

    def _failed(self, claimed: bool, part: WindowPart, error: BaseException | str) -> pvalue.TaggedOutput:
        """FAILED when this part owns the page that failed, else DONE (a split handed that page, and what
        follows, to another part)."""
        if not claimed:
            return part.result(WindowStatus.DONE)
        (metrics.WINDOWS_FAILED if part.task.parent is None else metrics.CHILD_TASKS_FAILED).inc()
        task = part.task
        message = self._client.redact(str(error))
        logger.warning("%s %s failed: %s", task.endpoint, task.label(), message, extra=log_fields(task))
        return part.result(WindowStatus.FAILED, error)

    @staticmethod
    def _count_split(part: WindowPart | None, initial: object, tracker) -> None:
        """Counts a part (of a window's walk, or of a batch: None) whose restriction the runner split while it
        ran (`try_split` handed a residual on)."""
        deferred = part is not None and part.deferred
        if not deferred and tracker.current_restriction() != initial:
            metrics.SPLIT_PARTS.inc()
