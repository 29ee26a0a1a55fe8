"""FetchChildTasks: the splittable DoFn that walks a batch of child tasks, several at once.

A batch is one child endpoint's tasks of one window (`ChildBatch`: the window, and the parents as `ParentRef`
texts). The restriction is the range of the batch's task indices: tasks are walked up to the worker's request
budget at a time, each with the child's own pagination from its first page to its last, and emitted in order. A
task is claimed when its walk starts, so a runner's split (Dataflow's dynamic splitting, Prism's splits of a slow
bundle) hands on only tasks nobody has started: no task is walked twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider

from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.fetch.concurrency import RequestPool
from beam_api_pipeline.fetch.range_restriction import OffsetRangeCoder
from beam_api_pipeline.fetch.window_fetch import WindowFetchDoFn, WindowPart
from beam_api_pipeline.plan.parents import ParentRef
from beam_api_pipeline.plan.run_plan import TaskElement, WindowStatus, WindowTask

#: A batch of child tasks between stages: (the child endpoint's window task, without a parent; parents' texts).
ChildBatch = tuple[TaskElement, tuple[str, ...]]


def batch_tasks(batch: ChildBatch) -> list[WindowTask]:
    """The child tasks of `batch`, in order."""
    window_element, parents = batch
    window = WindowTask.from_element(window_element)
    return [WindowTask(window.endpoint, window.window, ParentRef(parent)) for parent in parents]


class ChildTasksProvider(RestrictionProvider):
    """A batch's task indices `[0, number of tasks)`."""

    def initial_restriction(self, batch: ChildBatch) -> OffsetRange:
        return OffsetRange(0, len(batch[1]))

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, batch: ChildBatch, restriction: OffsetRange) -> int:
        return restriction.size()

    def restriction_coder(self) -> OffsetRangeCoder:
        return OffsetRangeCoder()


_TASKS = beam.DoFn.RestrictionParam(ChildTasksProvider())


@dataclass
class _ChildWalk:
    """What walking one child task found: its pages' records, and how the walk ended."""

    part: WindowPart
    extractor: BaseExtractor
    pages: list[list[Any]] = field(default_factory=list)
    status: WindowStatus = WindowStatus.DONE
    error: BaseException | None = None
    not_modified: bool = False


class FetchChildTasksFn(WindowFetchDoFn):
    """Walks the tasks of a ChildBatch up to the process's request budget at a time; out, per task in order,
    its `(task, rows)` batches and its WindowResult."""

    def setup(self) -> None:
        super().setup()
        self._pool = RequestPool(self._max_concurrent, "child-tasks")

    def teardown(self) -> None:
        self._pool.close()
        super().teardown()

    def process(self, batch: ChildBatch, tracker=_TASKS) -> Iterator[object]:
        initial = tracker.current_restriction()
        tasks = batch_tasks(batch)
        pending: deque[Future[_ChildWalk]] = deque()
        next_index = initial.start
        owned = True  # False once a claim failed: a split handed the rest on, and a tracker is not asked twice

        def fill() -> None:
            nonlocal next_index, owned
            while owned and len(pending) < self._pool.width:
                owned = tracker.try_claim(next_index)
                if owned:
                    pending.append(self._pool.submit(self._walk, tasks[next_index]))
                    next_index += 1

        try:
            fill()
            while pending:
                yield from self._emit_walk(pending.popleft().result())
                fill()
        finally:
            for future in pending:
                future.cancel()
        self._count_split(None, initial, tracker)

    def _walk(self, task: WindowTask) -> _ChildWalk:
        """Walk `task` from its first page to its last (or max_pages, or the first error), on a pool thread."""
        part = WindowPart(task, 0, self._client.redact)
        extractor = self._extractors[task.endpoint]
        walk = _ChildWalk(part, extractor)
        try:
            walk.extractor = extractor = extractor.for_parent(task.parent)
            position = extractor.pagination.first_position()
            while position is not None:
                if position.index >= self._max_pages[task.endpoint]:
                    walk.status = WindowStatus.TRUNCATED
                    return walk
                page = self._conditional.fetch_first(extractor, task, position, on_retry=part.count_retry)
                if page is None:  # 304 Not Modified: the task's one page is the one written before
                    walk.not_modified = True
                    return walk
                walk.pages.append(page.records)
                first, position = position, extractor.next_position(task.window, position, page)
                if first.index == 0 and position is None:
                    part.validators = self._conditional.kept(extractor, task, page)
        except Exception as error:
            walk.status, walk.error = WindowStatus.FAILED, error
        finally:
            part.stop_clock()
        return walk

    def _emit_walk(self, walk: _ChildWalk) -> Iterator[object]:
        part = walk.part
        for records in walk.pages:
            part.claimed(part.pages)
            yield from self._emit(walk.extractor, part, records)
        if walk.status is WindowStatus.FAILED:
            part.claimed(part.pages)  # the page that failed
            yield self._failed(True, part, walk.error)
        elif walk.status is WindowStatus.TRUNCATED:
            yield self._truncated(part)
        else:
            if walk.not_modified:
                part.claimed(0)  # the page that answered 304
            part.window_pages = part.end_page
            yield self._done(part)
