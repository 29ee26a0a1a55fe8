"""PlanRanges: each window's first page tells its total, and the window becomes a range of page indices."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future

from apache_beam import pvalue
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from beam_api_pipeline import metrics
from beam_api_pipeline.packing import pack
from beam_api_pipeline.parallel import RangeElement, RangeTask, plan_range
from beam_api_pipeline.paths import get_path
from beam_api_pipeline.run_plan import TaskElement, WindowTask
from beam_api_pipeline.transforms.api_dofn import ApiDoFn
from beam_api_pipeline.transforms.concurrency import RequestPool

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
        self._pending: deque[Future] = deque()

    def process(self, element: TaskElement) -> Iterator[object]:
        self._pending.append(self._pool.submit(self._plan, element))
        while self._pending and (self._pending[0].done() or len(self._pending) >= self._pool.width):
            yield self._pending.popleft().result()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        while self._pending:
            output = self._pending.popleft().result()
            if isinstance(output, pvalue.TaggedOutput):
                yield pvalue.TaggedOutput(output.tag, WindowedValue(output.value, MIN_TIMESTAMP, [GlobalWindow()]))
            else:
                yield WindowedValue(output, MIN_TIMESTAMP, [GlobalWindow()])

    def _plan(self, element: TaskElement) -> RangeElement | pvalue.TaggedOutput:
        task = WindowTask.from_element(element)
        paging = self._paging[task.endpoint]
        try:
            page = self._fetch_range_page(task, paging, 0)
        except Exception as error:
            return RangeTask(task, 1, 1, error=self._client.redact(str(error))).to_element()
        total = get_path(page.body, paging.total_path)
        if total is None and not paging.require_total:
            return pvalue.TaggedOutput(WALKS, element)
        if total is None:
            error = f"total_path {paging.total_path!r} is not in the first page's answer"
            return RangeTask(task, 1, 1, error=error).to_element()
        planned = plan_range(task, total, paging, self._max_pages[task.endpoint], self._profile.workers)
        if planned.error is None:
            metrics.PAGE_RANGES.inc()
        return dataclasses.replace(planned, first_page=pack(page.records)).to_element()
