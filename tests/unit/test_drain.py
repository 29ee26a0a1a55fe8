"""A drain, as Dataflow does it: the runner truncates every splittable restriction in progress. The poll ticks
stop (Beam's PeriodicImpulse truncates to nothing), and every fetch in progress keeps its whole rest (a bounded
restriction truncates to itself): a poll already planned is fetched to its end, written and committed when its
Beam window closes, which a drain's final watermark does (docs/deploy.md, "Drain")."""

from __future__ import annotations

from apache_beam.io.restriction_trackers import OffsetRange
from apache_beam.transforms.periodicsequence import ImpulseSeqGenRestrictionProvider

from beam_api_pipeline.fetch.child_fetch import ChildTasksProvider
from beam_api_pipeline.fetch.range_restriction import PageRangeProvider
from beam_api_pipeline.fetch.walk_restriction import PageWalk, PageWalkProvider
from beam_api_pipeline.pagination import PagePosition


def test_a_drain_stops_the_ticks():
    ticks = OffsetRange(3, 1_000_000)
    assert ImpulseSeqGenRestrictionProvider().truncate((0, 10**9, 2.0), ticks) is None


def test_a_drain_keeps_the_whole_rest_of_each_fetch_in_progress():
    walk = PageWalk(PagePosition(3, "t3"))  # a walk checkpointed after page 2, its length unknown
    assert PageWalkProvider().truncate(None, walk) == walk
    pages = OffsetRange(4, 40)
    assert PageRangeProvider().truncate(None, pages) == pages
    children = OffsetRange(1, 12)
    assert ChildTasksProvider().truncate(None, children) == children
