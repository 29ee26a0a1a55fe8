"""Runners call `try_split` from another thread while `process` claims pages (the SDK harness wraps each tracker
in a ThreadsafeRestrictionTracker, as here): whenever the split lands, the pages claimed before it and the
residual's pages are the whole walk, each page once."""

from __future__ import annotations

import random
import threading
import time

import pytest
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.runners.sdf_utils import ThreadsafeRestrictionTracker

from beam_api_pipeline.fetch.walk_restriction import PageStep, PageWalk, PageWalkTracker
from beam_api_pipeline.pagination import PagePosition

PAGES = 40


def split_while_claiming(tracker: ThreadsafeRestrictionTracker, claims, fraction: float, delay: float):
    """Claim `claims` one by one (a short pause before each, as a fetch) while another thread splits once after
    `delay`; returns the claims that succeeded and the split."""
    split: list = []
    splitter = threading.Timer(delay, lambda: split.append(tracker.try_split(fraction)))
    splitter.start()
    claimed = []
    for claim in claims:
        time.sleep(0.0002)
        if not tracker.try_claim(claim):
            break
        claimed.append(claim)
    splitter.join()
    return claimed, split[0]


@pytest.mark.parametrize("seed", range(60))
def test_a_page_walk_split_from_another_thread_loses_and_repeats_no_page(seed):
    draw = random.Random(seed)
    positions = [PagePosition(i, f"cursor-{i}") for i in range(PAGES)]
    steps = [PageStep(p, positions[i + 1] if i + 1 < PAGES else None) for i, p in enumerate(positions)]
    tracker = ThreadsafeRestrictionTracker(PageWalkTracker(PageWalk()))
    claimed, split = split_while_claiming(tracker, steps, draw.choice([0, 0.5]), draw.uniform(0, 0.012))

    if split is None:  # the walk was over before the split came
        assert len(claimed) == PAGES
        return
    primary, residual = split
    assert [step.position.index for step in claimed] == list(range(len(claimed)))
    assert primary == PageWalk(None, len(claimed))
    assert residual == PageWalk(positions[len(claimed)] if claimed else None, None)  # None: from the first page
    tracker.check_done()


@pytest.mark.parametrize("seed", range(60))
def test_a_page_range_split_from_another_thread_loses_and_repeats_no_page(seed):
    draw = random.Random(seed)
    tracker = ThreadsafeRestrictionTracker(OffsetRestrictionTracker(OffsetRange(0, PAGES)))
    claimed, split = split_while_claiming(tracker, range(PAGES), draw.choice([0, 0.25, 0.5]), draw.uniform(0, 0.012))

    if split is None:
        assert claimed == list(range(PAGES))
        return
    primary, residual = split
    assert claimed == list(range(primary.stop))
    assert (primary.start, residual.start, residual.stop) == (0, primary.stop, PAGES)
    tracker.check_done()
