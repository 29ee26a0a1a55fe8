"""PlanRanges: each window's first page tells its total, and the window becomes a range of page indices."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms.window import BoundedWindow
from apache_beam.utils.timestamp import Timestamp

from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.beam_windows import in_window
from beam_api_pipeline.core.packing import pack_compressed
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.fetch.api_dofn import ApiDoFn
from beam_api_pipeline.fetch.concurrency import RequestPool
from beam_api_pipeline.fetch.range_rules import RangeElement, RangeTask, plan_range
from beam_api_pipeline.plan.run_plan import TaskElement, WindowTask

#: The output of windows whose answer has no total (`require_total_count: false`): they are walked page by page.
WALKS = "walks"


class PlanRangesFn(ApiDoFn):
    """Fetches each window's first page (several windows at once) and turns the window into a RangeTask (main
    output, counted in `page_ranges`); a window whose answer has no total goes to WALKS when
    `require_total_count` is false."""

    def setup(self) -> None:
        super().setup()
        self._pool = RequestPool(self._max_concurrent, "plan-ranges")

    def teardown(self) -> None:
        self._pool.close()
        super().teardown()

    def start_bundle(self) -> None:
        self._pending: deque[tuple[Future, BoundedWindow, Timestamp]] = deque()

    def process(
        self,
        element: TaskElement,
        window: BoundedWindow = beam.DoFn.WindowParam,
        timestamp: Timestamp = beam.DoFn.TimestampParam,
    ) -> Iterator[object]:
        self._pending.append((self._pool.submit(self._plan, element), window, timestamp))
        while self._pending and (self._pending[0][0].done() or len(self._pending) >= self._pool.width):
            yield self._next_output()

    def finish_bundle(self) -> Iterator[object]:
        while self._pending:
            yield self._next_output()

    def _next_output(self) -> object:
        """The oldest pending window's output, in the Beam window of the element it came from (a bundle can
        hold several polls of a streaming run)."""
        future, window, timestamp = self._pending.popleft()
        output = future.result()
        if isinstance(output, pvalue.TaggedOutput):
            return pvalue.TaggedOutput(output.tag, in_window(output.value, window, timestamp))
        return in_window(output, window, timestamp)

    def _plan(self, element: TaskElement) -> RangeElement | pvalue.TaggedOutput:
        task = WindowTask.from_element(element)
        paging = self._paging[task.endpoint]
        try:
            page = self._fetch_range_page(task, paging, 0)
        except Exception as error:
            return RangeTask(task, 1, 1, error=self._client.redact(str(error))).to_element()
        total = get_path(page.body, paging.total_path)
        served = len(page.records)
        if total is None and not paging.require_total:
            return pvalue.TaggedOutput(WALKS, element)
        if total is None:
            error = f"total_path {paging.total_path!r} is not in the first page's answer"
            return RangeTask(task, 1, 1, error=error).to_element()
        planned = plan_range(task, total, paging, self._max_pages[task.endpoint], self._profile.workers, served)
        if planned.error is None:
            metrics.PAGE_RANGES.inc()
        return dataclasses.replace(planned, first_page=pack_compressed(page.records)).to_element()
