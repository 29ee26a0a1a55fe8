"""The restriction of the fetch DoFn: a page walk for windows walked page by page (cursor-like), a range of
page indices for windows whose total is known (`parallel.RangeTask`). Ranges split: into `parts` at the start
and, through `OffsetRestrictionTracker.try_split`, whenever a runner rebalances (Dataflow's dynamic splitting).
"""

from __future__ import annotations

from collections.abc import Iterator

from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider

from beam_api_pipeline.parallel import RangeTask, split_evenly
from beam_api_pipeline.transforms.page_walk import PageWalk, PageWalkProvider, PageWalkTracker

WindowWork = PageWalk | OffsetRange


class WindowWorkProvider(RestrictionProvider):
    """PageWalk restrictions for WindowTasks, OffsetRanges of page indices for RangeTasks."""

    def __init__(self) -> None:
        self._walks = PageWalkProvider()

    def initial_restriction(self, element) -> WindowWork:
        if isinstance(element, RangeTask):
            return OffsetRange(0, element.stop)
        return self._walks.initial_restriction(element)

    def create_tracker(self, restriction: WindowWork) -> OffsetRestrictionTracker | PageWalkTracker:
        if isinstance(restriction, OffsetRange):
            return OffsetRestrictionTracker(restriction)
        return self._walks.create_tracker(restriction)

    def split(self, element, restriction: WindowWork) -> Iterator[WindowWork]:
        if isinstance(element, RangeTask) and isinstance(restriction, OffsetRange):
            for start, stop in split_evenly(restriction.start, restriction.stop, element.parts):
                yield OffsetRange(start, stop)
        else:
            yield restriction

    def restriction_size(self, element, restriction: WindowWork) -> int:
        if isinstance(restriction, OffsetRange):
            return restriction.size()
        return self._walks.restriction_size(element, restriction)
