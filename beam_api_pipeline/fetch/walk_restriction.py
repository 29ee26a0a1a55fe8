"""A window's page walk as a restriction, with its tracker, provider and coder: runners can checkpoint and
resume it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apache_beam.coders import Coder, FastPrimitivesCoder
from apache_beam.io.iobase import RestrictionProgress, RestrictionTracker
from apache_beam.transforms.core import RestrictionProvider

from beam_api_pipeline.pagination import PagePosition
from beam_api_pipeline.pagination.base import WalkTally


@dataclass(frozen=True)
class PageWalk:
    """The remaining work of one window: pages from `start` (None: the first page) up to `stop_index`
    (exclusive; None: until the API says there are no more)."""

    start: PagePosition | None = None
    stop_index: int | None = None

    @property
    def start_index(self) -> int:
        return self.start.index if self.start else 0

    @property
    def is_empty(self) -> bool:
        return self.stop_index is not None and self.stop_index <= self.start_index

    def to_values(self) -> tuple[Any, ...]:
        """The walk as plain values: `(stop_index,)` from the first page, else `(stop_index, index, token, seen,
        tally)` (the tally as `WalkTally.to_values`)."""
        if self.start is None:
            return (self.stop_index,)
        start = self.start
        return (self.stop_index, start.index, start.token, start.seen, start.tally.to_values())

    @classmethod
    def from_values(cls, values: tuple[Any, ...]) -> PageWalk:
        stop_index, *start = values
        if not start:
            return cls(None, stop_index)
        index, token, seen, *tally = start  # a walk encoded before the tally was kept has none: an empty one
        return cls(PagePosition(index, token, tuple(seen), WalkTally(*(tally[0] if tally else ()))), stop_index)


@dataclass(frozen=True)
class PageStep:
    """A claim: the page at `position` was fetched and `next` is the page after it (None: the walk is over)."""

    position: PagePosition
    next: PagePosition | None


@dataclass(frozen=True)
class PageHold:
    """A claim on a walk's next page before it is fetched (`release`: give it back, to defer the rest of the walk).
    While held, no split hands the page on: Dataflow streaming may split a restriction that has claimed nothing
    yet, and checkpoints a bundle's restriction every few seconds, and the page in flight would be dropped and
    fetched again by its new owner."""

    release: bool = False


class PageWalkTracker(RestrictionTracker):
    """Claims pages one by one. A split hands the pages after the last claimed one to a residual walk that
    starts at that page's `next` position, so no page is fetched twice and none is skipped."""

    def __init__(self, restriction: PageWalk):
        self._restriction = restriction
        self._last: PageStep | None = None
        self._held = False

    def current_restriction(self) -> PageWalk:
        return self._restriction

    def try_claim(self, step: PageStep | PageHold) -> bool:
        if isinstance(step, PageHold):
            return self._hold(step)
        stop = self._restriction.stop_index
        if stop is not None and step.position.index >= stop:
            return False
        self._last = step
        self._held = False
        return True

    def _hold(self, hold: PageHold) -> bool:
        """Hold (or release) the next page. A hold is refused (False) when there is no next page in the
        restriction: a split handed it on, or the walk is over."""
        if hold.release:
            self._held = False
            return True
        self._held = not self._walk_finished() and not self._next_split_off()
        return self._held

    def _next_split_off(self) -> bool:
        """Whether the restriction ends before the page after the last claimed one (the first, before a claim)."""
        stop = self._restriction.stop_index
        next_index = self._restriction.start_index if self._last is None else self._last.position.index + 1
        return stop is not None and next_index >= stop

    def _walk_finished(self) -> bool:
        if self._restriction.is_empty:
            return True
        if self._last is None:
            return False
        stop = self._restriction.stop_index
        return self._last.next is None or (stop is not None and self._last.position.index + 1 >= stop)

    def try_split(self, fraction_of_remainder: float):
        """Split after the last claimed page, whatever the fraction: the rest of a walk is unknown until it is
        walked, so a split of it (a checkpoint at 0, Prism's and Dataflow's at other fractions) hands all of
        it on. Before the first claim too: Prism stops asking a bundle that declines once, and the walk moves
        on to a bundle of its own. While a page is held and in flight, nothing is split off: it stays with the walk
        that fetches it."""
        if self._walk_finished() or self._held:
            return None
        walk = self._restriction
        if self._last is None:
            primary = PageWalk(walk.start, walk.start_index)
            residual = walk
        else:
            primary = PageWalk(walk.start, self._last.position.index + 1)
            residual = PageWalk(self._last.next, walk.stop_index)
        self._restriction = primary
        return primary, residual

    def check_done(self) -> None:
        if not self._walk_finished():
            raise ValueError(f"the page walk {self._restriction} stopped before its last page")

    def current_progress(self) -> RestrictionProgress:
        done = 0 if self._last is None else self._last.position.index + 1 - self._restriction.start_index
        remaining = 0 if self._walk_finished() else 1
        return RestrictionProgress(completed=done, remaining=remaining)

    def is_bounded(self) -> bool:
        return True


class PageWalkCoder(Coder):
    """Encodes a PageWalk as plain values with Beam's compiled coder (a JSON token is encoded as it is)."""

    _values = FastPrimitivesCoder()

    def encode(self, walk: PageWalk) -> bytes:
        return self._values.encode(walk.to_values())

    def decode(self, encoded: bytes) -> PageWalk:
        return PageWalk.from_values(self._values.decode(encoded))

    def is_deterministic(self) -> bool:
        return True


class PageWalkProvider(RestrictionProvider):
    """Every window starts as one walk from its first page; its size is unknown until it is walked."""

    def initial_restriction(self, element) -> PageWalk:
        return PageWalk()

    def create_tracker(self, restriction: PageWalk) -> PageWalkTracker:
        return PageWalkTracker(restriction)

    def restriction_size(self, element, restriction: PageWalk) -> int:
        return 0 if restriction.is_empty else 1

    def restriction_coder(self) -> PageWalkCoder:
        return PageWalkCoder()
