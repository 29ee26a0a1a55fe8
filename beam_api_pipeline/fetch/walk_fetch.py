"""WalkPages: the splittable DoFn that walks a window page by page (cursors, next URLs, pages without a total).

The restriction is the rest of the walk (`page_walk.PageWalk`): a runner can checkpoint it after any page and
resume it later, elsewhere, from that page's next position. In a streaming run a part holds each page before
fetching it (`PageHold`): Dataflow streaming may split a restriction that has claimed nothing yet and checkpoints
a bundle every few seconds, and the page in flight would be fetched twice. A batch run does not hold pages: Prism
asks a bundle that once declined a split no more, and a slow window's walk could then never move to a bundle of
its own.

With `parallel_config` time_window, each part of a walk holds one of the process's window slots
(`window_slots`) while it fetches; a deferred part gives its slot back when it stops, and its remainder takes
one again when the runner resumes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext

import apache_beam as beam

from beam_api_pipeline.fetch.walk_restriction import PageHold, PageStep, PageWalk, PageWalkProvider
from beam_api_pipeline.fetch.window_fetch import Deferral, WindowFetchDoFn, WindowPart
from beam_api_pipeline.fetch.window_slots import window_slots
from beam_api_pipeline.plan.run_plan import TaskElement, WindowStatus, WindowTask

_WALK = beam.DoFn.RestrictionParam(PageWalkProvider())


class WalkPagesFn(WindowFetchDoFn):
    """Walks one window (or the rest of it), yielding `(task, rows)` batches as each page arrives and one
    WindowResult for the part it walked."""

    def setup(self) -> None:
        super().setup()
        self._window_slots = window_slots(self._config, self._profile.processes_on_worker())
        self._holds_pages = self._config.streaming.enabled

    def process(self, element: TaskElement, tracker=_WALK) -> Iterator[object]:
        with self._window_slot():
            initial: PageWalk = tracker.current_restriction()
            part = WindowPart(WindowTask.from_element(element), initial.start_index, self._client.redact)
            yield from self._walk(part, tracker)
        self._count_split(part, initial, tracker)

    def _window_slot(self) -> AbstractContextManager[None]:
        """One of the process's window slots (`max_concurrent_windows`), or no cap."""
        return nullcontext() if self._window_slots is None else self._window_slots.hold()

    def _walk(self, part: WindowPart, tracker) -> Iterator[object]:
        task = part.task
        extractor = self._extractors[task.endpoint]
        position = tracker.current_restriction().start or extractor.pagination.first_position()
        on_retry = self._on_retry(part)
        while True:
            if _split_off(tracker, position.index) or (self._holds_pages and not tracker.try_claim(PageHold())):
                yield part.result(WindowStatus.DONE)  # a split handed this page and the rest to another part
                return
            if position.index >= self._max_pages[task.endpoint]:
                claimed = tracker.try_claim(PageStep(position, None))
                yield self._truncated(part) if claimed else part.result(WindowStatus.DONE)
                return
            try:
                self._check_pause()
                page = self._conditional.fetch_first(extractor, task, position, on_retry=on_retry)
                if page is not None:
                    tally = extractor.pagination.tally_after(position, page)
                    part.saw(tally.announced, tally.size)
                    next_position = extractor.next_position(task.window, position, page)
            except Deferral as deferral:
                tracker.try_claim(PageHold(release=True))  # the page, if held, is deferred too
                yield self._defer(tracker, part, deferral)
                return
            except Exception as error:
                yield self._failed(tracker.try_claim(PageStep(position, None)), part, error)
                return
            if page is None:  # 304 Not Modified: the walk's one page is the one written before
                yield from self._not_modified(tracker, part, position)
                return
            repeat = extractor.pagination.repeats_previous(position, page)  # the API ignores paging: not read
            if not tracker.try_claim(PageStep(position, next_position)):
                yield part.result(WindowStatus.DONE)  # split while the page was fetched: its new owner fetches it again
                return
            if repeat:
                part.window_pages = part.end_page
                yield self._done(part)
                return
            part.claimed(position.index)
            yield from self._emit(extractor, part, page.records)
            if next_position is None:
                if position.index == 0:
                    part.validators = self._conditional.kept(extractor, task, page)
                part.window_pages = part.end_page
                yield self._done(part)
                return
            position = next_position

    def _not_modified(self, tracker, part: WindowPart, position) -> Iterator[object]:
        """The window's first page answered 304: its walk ends there with no records, complete."""
        if not tracker.try_claim(PageStep(position, None)):
            yield part.result(WindowStatus.DONE)  # split while the page was fetched: its new owner fetches it again
            return
        part.claimed(position.index)
        part.window_pages = part.end_page
        yield self._done(part)


def _split_off(tracker, index: int) -> bool:
    """Whether a split has already handed page `index` on (no need to fetch it)."""
    stop = tracker.current_restriction().stop_index
    return stop is not None and index >= stop
