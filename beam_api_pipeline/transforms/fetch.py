"""ReadFromApi: window tasks in; `(task, rows)` batches and a WindowResult per part of a walk out.

Windows are walked page by page by a splittable DoFn (cursor-like walks, `parallel_config` time_window or none;
windows run concurrently as far as the runner runs bundles concurrently). With `parallel_config` known_pages or
calculated_offset, `PlanRanges` first fetches each window's first page (several windows at once) to read the
total; the window's pages become a range that the same DoFn splits into parts and fetches several pages at a
time. On Dataflow, a 429 whose Retry-After exceeds `DEFER_AFTER_SECONDS` checkpoints the rest of the walk with
`defer_remainder` instead of holding the worker thread.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Duration
from apache_beam.utils.windowed_value import WindowedValue

from beam_api_pipeline import metrics
from beam_api_pipeline.config import PipelineConfig, resolve_config
from beam_api_pipeline.errors import RateLimitedError
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.http.build import build_client
from beam_api_pipeline.http.limits import share_of_budget, shared_limits
from beam_api_pipeline.pagination import Page
from beam_api_pipeline.parallel import RangePaging, RangeTask, plan_range, range_paging
from beam_api_pipeline.paths import get_path
from beam_api_pipeline.run_plan import DONE, FAILED, PARTIAL, TRUNCATED, WindowResult, WindowTask
from beam_api_pipeline.transforms.concurrency import RequestPool
from beam_api_pipeline.transforms.page_walk import PageStep
from beam_api_pipeline.transforms.runner_profile import RunnerProfile, runner_profile
from beam_api_pipeline.transforms.window_work import WindowWorkProvider

logger = logging.getLogger(__name__)

RESULTS = "window_results"
#: A 429 asking to wait longer than this (seconds) checkpoints the walk where the runner can resume it later.
DEFER_AFTER_SECONDS = 5.0
#: Requests in flight per DoFn instance when `max_concurrent_requests` is not set.
DEFAULT_MAX_CONCURRENT_REQUESTS = 10
_WORK = beam.DoFn.RestrictionParam(WindowWorkProvider())


class _Deferral(Exception):
    """The API asked for a wait long enough to checkpoint rather than sleep."""

    def __init__(self, seconds: float):
        super().__init__(f"deferred for {seconds:.0f}s")
        self.seconds = seconds


class _ApiDoFn(beam.DoFn):
    """Builds the worker's client (its share of the job's limits) and extractors in `setup()`."""

    def __init__(self, config: PipelineConfig, extractor_class: type[BaseExtractor], profile: RunnerProfile):
        self._config = config
        self._extractor_class = extractor_class
        self._profile = profile

    def setup(self) -> None:
        resolved = resolve_config(self._config)
        api = resolved.api_config
        share = share_of_budget(
            api.rate_limit,
            api.max_concurrent_requests or DEFAULT_MAX_CONCURRENT_REQUESTS,
            self._profile.processes_on_worker(),
        )
        resolved = resolved.model_copy(
            update={
                "api_config": api.model_copy(
                    update={"rate_limit": share.rate_limit, "max_concurrent_requests": share.max_concurrent}
                )
            }
        )
        self._max_concurrent = share.max_concurrent or 1
        self._client = build_client(resolved)
        self._limits = shared_limits(resolved.pipeline_id, share.rate_limit, share.max_concurrent)
        self._extractors = {name: self._extractor_class(resolved, name) for name in api.endpoints}
        self._paging = {name: range_paging(api, name) for name in api.endpoints}
        self._max_pages = {name: api.pagination_for(name).max_pages for name in api.endpoints}
        self._batch_size = api.batch_size

    def teardown(self) -> None:
        self._client.close()

    def _fetch_range_page(self, task: WindowTask, paging: RangePaging, index: int, on_retry=None) -> Page:
        """Page `index` of a window fetched as a range: the extractor's request with the range's paging."""
        extractor = self._extractors[task.endpoint]
        request = extractor.build_request(task.window, extractor.pagination.first_position())
        request = dataclasses.replace(request, params={**request.params, **paging.params(index)})
        return extractor.read_page(self._client.send(request, on_retry=on_retry))


class _PlanRangesFn(_ApiDoFn):
    """Fetches each window's first page (several windows at once) and turns the window into a RangeTask; a
    window whose answer has no total goes on as a page walk when `require_total_count` is false."""

    def setup(self) -> None:
        super().setup()
        self._pool = RequestPool(self._max_concurrent, "plan-ranges")

    def teardown(self) -> None:
        self._pool.close()
        super().teardown()

    def start_bundle(self) -> None:
        self._pending: deque[Future] = deque()

    def process(self, task: WindowTask) -> Iterator[RangeTask | WindowTask]:
        self._pending.append(self._pool.submit(self._plan, task))
        while self._pending and (self._pending[0].done() or len(self._pending) >= self._pool.width):
            yield self._pending.popleft().result()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        while self._pending:
            yield WindowedValue(self._pending.popleft().result(), MIN_TIMESTAMP, [GlobalWindow()])

    def _plan(self, task: WindowTask) -> RangeTask | WindowTask:
        paging = self._paging[task.endpoint]
        try:
            page = self._fetch_range_page(task, paging, 0)
        except Exception as error:
            return RangeTask(task, 1, 1, error=self._client.redact(str(error)))
        total = get_path(page.body, paging.total_path)
        if total is None and not paging.require_total:
            return task
        if total is None:
            return RangeTask(task, 1, 1, error=f"total_path {paging.total_path!r} is not in the first page's answer")
        planned = plan_range(task, total, paging, self._max_pages[task.endpoint], self._profile.workers)
        return dataclasses.replace(planned, first_records=page.records)


def _log_fields(task: WindowTask) -> dict[str, str]:
    """The fields a JSON log line carries about a window (see logging_setup)."""
    return {"endpoint": task.endpoint, "window": task.window.label()}


class _WindowPart:
    """Counts of one part of a window's walk, and its WindowResult."""

    def __init__(self, task: WindowTask, redact: Callable[[str], str]):
        self.task = task
        self.pages = self.records = self.retries = 0
        self._redact = redact
        self._started = time.monotonic()

    def count_retry(self, _error: BaseException, _wait: float) -> None:
        self.retries += 1

    def result(self, status: str, error: BaseException | str | None = None) -> pvalue.TaggedOutput:
        message = self._redact(str(error)) if error else None
        error_type = None if error is None or isinstance(error, str) else type(error).__name__
        seconds = round(time.monotonic() - self._started, 3)
        return pvalue.TaggedOutput(
            RESULTS,
            WindowResult(self.task, status, self.pages, self.records, self.retries, message, error_type, seconds),
        )


class _FetchWindowFn(_ApiDoFn):
    """Walks one window (or one part of a window's page range), yielding `(task, rows)` batches as each page
    arrives and one WindowResult per part."""

    def __init__(
        self,
        config: PipelineConfig,
        extractor_class: type[BaseExtractor],
        profile: RunnerProfile,
    ):
        super().__init__(config, extractor_class, profile)
        self._can_defer = profile.can_defer

    def setup(self) -> None:
        super().setup()
        widths = [paging.pages_in_flight for paging in self._paging.values() if paging is not None]
        self._pool = RequestPool(min(max(widths), self._max_concurrent), "fetch-pages") if widths else None

    def teardown(self) -> None:
        if self._pool is not None:
            self._pool.close()
        super().teardown()

    def _on_retry(self, part: _WindowPart) -> Callable[[BaseException, float], None]:
        """Counts retries; where the runner honours it, turns a long Retry-After into a deferral."""

        def on_retry(error: BaseException, wait: float) -> None:
            part.count_retry(error, wait)
            if self._can_defer and isinstance(error, RateLimitedError) and wait > DEFER_AFTER_SECONDS:
                raise _Deferral(wait)

        return on_retry

    def _check_pause(self) -> None:
        """Raise _Deferral when the API asked every request to wait long enough to checkpoint instead."""
        paused = self._limits.paused_for()
        if self._can_defer and paused > DEFER_AFTER_SECONDS:
            raise _Deferral(paused)

    def _defer(self, tracker, part: _WindowPart, deferral: _Deferral) -> pvalue.TaggedOutput:
        tracker.defer_remainder(Duration.of(deferral.seconds))
        metrics.DEFERRED_REMAINDERS.inc()
        logger.info("%s %s: %s", part.task.endpoint, part.task.window.label(), deferral, extra=_log_fields(part.task))
        return part.result(PARTIAL)

    def process(self, element: WindowTask | RangeTask, tracker=_WORK) -> Iterator[object]:
        if isinstance(element, RangeTask):
            yield from self._fetch_range(element, tracker)
        else:
            yield from self._walk(element, tracker)

    def _walk(self, task: WindowTask, tracker) -> Iterator[object]:
        extractor = self._extractors[task.endpoint]
        position = tracker.current_restriction().start or extractor.pagination.first_position()
        part = _WindowPart(task, self._client.redact)
        on_retry = self._on_retry(part)
        while True:
            if position.index >= self._max_pages[task.endpoint]:
                if tracker.try_claim(PageStep(position, None)):
                    yield from self._truncated(part)
                else:
                    yield part.result(PARTIAL)
                return
            try:
                self._check_pause()
                page = extractor.fetch_page(self._client, task.window, position, on_retry=on_retry)
                next_position = extractor.pagination.next_position(position, page)
            except _Deferral as deferral:
                yield self._defer(tracker, part, deferral)
                return
            except Exception as error:
                yield self._failed(tracker.try_claim(PageStep(position, None)), part, error)
                return
            if not tracker.try_claim(PageStep(position, next_position)):
                yield part.result(PARTIAL)
                return
            yield from self._emit(extractor, part, page.records)
            if next_position is None:
                yield self._done(part)
                return
            position = next_position

    def _fetch_range(self, element: RangeTask, tracker) -> Iterator[object]:
        """Fetches the part's pages up to `pool.width` at a time, claiming and emitting them in order; pages
        fetched beyond a split point are dropped (their new owner fetches them)."""
        task = element.task
        part = _WindowPart(task, self._client.redact)
        if element.error is not None:
            yield self._failed(tracker.try_claim(0), part, element.error)
            return
        extractor, paging = self._extractors[task.endpoint], self._paging[task.endpoint]
        on_retry = self._on_retry(part)
        pending: deque[tuple[int, Future]] = deque()
        next_index = tracker.current_restriction().start

        def fill() -> None:
            nonlocal next_index
            while len(pending) < self._pool.width and next_index < tracker.current_restriction().stop:
                if next_index == 0:
                    first: Future = Future()
                    first.set_result(element.first_records)
                    pending.append((0, first))
                else:
                    pending.append(
                        (next_index, self._pool.submit(self._range_records, task, paging, next_index, on_retry))
                    )
                next_index += 1

        try:
            fill()
            while pending:
                index, future = pending.popleft()
                try:
                    records = future.result()
                except _Deferral as deferral:
                    yield self._defer(tracker, part, deferral)
                    return
                except Exception as error:
                    yield self._failed(tracker.try_claim(index), part, error)
                    return
                if not tracker.try_claim(index):
                    break
                yield from self._emit(extractor, part, records)
                if index == 0 and element.truncated:
                    yield from self._truncated(part)
                fill()
        finally:
            for _, future in pending:
                future.cancel()
        yield self._done(part)

    def _range_records(self, task: WindowTask, paging: RangePaging, index: int, on_retry) -> list:
        self._check_pause()
        return self._fetch_range_page(task, paging, index, on_retry).records

    def _emit(self, extractor: BaseExtractor, part: _WindowPart, records: list) -> Iterator[tuple]:
        """A page's rows in `(task, rows)` batches of at most `batch_size`: downstream steps work a batch at a
        time."""
        part.pages += 1
        metrics.PAGES.inc()
        rows = list(extractor.records(Page(None, {}, records)))
        part.records += len(rows)
        metrics.RECORDS_FETCHED.inc(len(records))
        for start in range(0, len(rows), self._batch_size):
            yield part.task, rows[start : start + self._batch_size]

    def _done(self, part: _WindowPart) -> pvalue.TaggedOutput:
        metrics.WINDOWS_SUCCEEDED.inc()
        metrics.RECORDS_PER_WINDOW.update(part.records)
        return part.result(DONE)

    def _truncated(self, part: _WindowPart) -> Iterator[pvalue.TaggedOutput]:
        metrics.MAX_PAGES_REACHED.inc()
        task = part.task
        max_pages = self._max_pages[task.endpoint]
        logger.warning(
            "%s %s: max_pages (%d) reached", task.endpoint, task.window.label(), max_pages, extra=_log_fields(task)
        )
        yield part.result(TRUNCATED, RuntimeError(f"max_pages ({max_pages}) reached before the last page"))

    def _failed(self, claimed: bool, part: _WindowPart, error: BaseException | str) -> pvalue.TaggedOutput:
        """FAILED when this part owns the page that failed, else PARTIAL (a split handed it to another part)."""
        if not claimed:
            return part.result(PARTIAL)
        metrics.WINDOWS_FAILED.inc()
        task = part.task
        message = self._client.redact(str(error))
        logger.warning("%s %s failed: %s", task.endpoint, task.window.label(), message, extra=_log_fields(task))
        return part.result(FAILED, error)


class ReadFromApi(beam.PTransform):
    """Window tasks in; `(task, rows)` batches (main output), and WindowResults (`RESULTS`) out.

    How the work fans out is decided here, from the pipeline's options (see `runner_profile`).
    """

    def __init__(self, config: PipelineConfig, extractor_class: type[BaseExtractor], tasks: list[WindowTask]):
        super().__init__()
        self._config = config
        self._extractor_class = extractor_class
        self._tasks = tasks
        api = config.api_config
        self._uses_ranges = any(range_paging(api, endpoint) is not None for endpoint in api.endpoints)

    def expand(self, pbegin: pvalue.PBegin) -> pvalue.DoOutputsTuple:
        profile = runner_profile(pbegin.pipeline.options)
        tasks = pbegin | "CreateWindows" >> beam.Create(self._tasks, reshuffle=True)
        if self._uses_ranges:
            tasks = (
                tasks
                | "PlanRanges" >> beam.ParDo(_PlanRangesFn(self._config, self._extractor_class, profile))
                | "SpreadRanges" >> beam.Reshuffle()
            )
        return tasks | "FetchWindows" >> beam.ParDo(
            _FetchWindowFn(self._config, self._extractor_class, profile)
        ).with_outputs(RESULTS, main="records")
