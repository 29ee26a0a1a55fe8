"""A window's pages as a range of page indices (`parallel.RangeTask`), the restriction of the range fetch.

Ranges split: into `parts` at the start and, through `OffsetRestrictionTracker.try_split`, whenever a runner
rebalances (Dataflow's dynamic splitting, Prism's splits of a slow bundle).
"""

from __future__ import annotations

from collections.abc import Iterator

from apache_beam.coders import Coder, TupleCoder, VarIntCoder
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider

from beam_api_pipeline.fetch.range_rules import RangeElement, RangeTask, split_evenly


class OffsetRangeCoder(Coder):
    """Encodes an OffsetRange as two integers with Beam's compiled coders: nothing is pickled."""

    _bounds = TupleCoder([VarIntCoder(), VarIntCoder()])

    def encode(self, page_range: OffsetRange) -> bytes:
        return self._bounds.encode((page_range.start, page_range.stop))

    def decode(self, encoded: bytes) -> OffsetRange:
        return OffsetRange(*self._bounds.decode(encoded))

    def is_deterministic(self) -> bool:
        return True


class PageRangeProvider(RestrictionProvider):
    """A RangeTask's pages `[0, stop)`, split into its `parts` before the fetch starts."""

    def initial_restriction(self, element: RangeElement) -> OffsetRange:
        return OffsetRange(0, RangeTask.from_element(element).stop)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def split(self, element: RangeElement, restriction: OffsetRange) -> Iterator[OffsetRange]:
        for start, stop in split_evenly(restriction.start, restriction.stop, RangeTask.from_element(element).parts):
            yield OffsetRange(start, stop)

    def restriction_size(self, element: RangeElement, restriction: OffsetRange) -> int:
        return restriction.size()

    def restriction_coder(self) -> OffsetRangeCoder:
        return OffsetRangeCoder()
