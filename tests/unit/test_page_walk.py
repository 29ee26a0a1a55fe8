import pytest

from beam_api_pipeline.fetch.walk_restriction import PageHold, PageStep, PageWalk, PageWalkTracker
from beam_api_pipeline.pagination import PagePosition


def step(index: int, last: bool = False) -> PageStep:
    return PageStep(PagePosition(index, f"t{index}"), None if last else PagePosition(index + 1, f"t{index + 1}"))


def test_a_full_walk_is_done_after_its_last_page():
    tracker = PageWalkTracker(PageWalk())
    assert tracker.try_claim(step(0)) and tracker.try_claim(step(1)) and tracker.try_claim(step(2, last=True))
    tracker.check_done()
    assert tracker.try_split(0) is None


def test_a_walk_stopped_early_is_not_done():
    tracker = PageWalkTracker(PageWalk())
    tracker.try_claim(step(0))
    with pytest.raises(ValueError, match="stopped before its last page"):
        tracker.check_done()


def test_checkpoint_hands_the_next_page_to_the_residual():
    tracker = PageWalkTracker(PageWalk())
    tracker.try_claim(step(0))
    tracker.try_claim(step(1))
    primary, residual = tracker.try_split(0)
    assert primary == PageWalk(None, 2)
    assert residual == PageWalk(PagePosition(2, "t2"), None)
    assert not tracker.try_claim(step(2))
    tracker.check_done()

    resumed = PageWalkTracker(residual)
    assert resumed.try_claim(step(2)) and resumed.try_claim(step(3, last=True))
    resumed.check_done()


def test_checkpoint_before_any_claim_defers_the_whole_walk():
    walk = PageWalk(PagePosition(4, "t4"))
    tracker = PageWalkTracker(walk)
    primary, residual = tracker.try_split(0)
    assert primary.is_empty and residual == walk
    assert not tracker.try_claim(step(4))
    tracker.check_done()


@pytest.mark.parametrize("fraction", [0, 0.5])
def test_a_split_before_the_first_claim_hands_on_the_whole_walk(fraction):
    assert PageWalkTracker(PageWalk()).try_split(fraction) == (PageWalk(None, 0), PageWalk())


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.9])
def test_a_split_at_any_fraction_hands_on_the_pages_after_the_last_claimed_one(fraction):
    tracker = PageWalkTracker(PageWalk())
    tracker.try_claim(step(0))
    assert tracker.try_split(fraction) == (PageWalk(None, 1), PageWalk(PagePosition(1, "t1"), None))
    assert not tracker.try_claim(step(1))
    tracker.check_done()


def test_progress_counts_claimed_pages():
    tracker = PageWalkTracker(PageWalk(PagePosition(3, "t3")))
    tracker.try_claim(step(3))
    tracker.try_claim(step(4))
    progress = tracker.current_progress()
    assert (progress.completed_work, progress.remaining_work) == (2, 1)


def test_a_held_first_page_is_not_split_off_while_it_is_fetched():
    tracker = PageWalkTracker(PageWalk())
    assert tracker.try_claim(PageHold())
    assert tracker.try_split(0) is None and tracker.try_split(0.5) is None
    assert tracker.try_claim(step(0))
    assert tracker.try_split(0) == (PageWalk(None, 1), PageWalk(PagePosition(1, "t1"), None))
    tracker.check_done()


def test_a_walk_split_before_its_hold_is_not_fetched():
    tracker = PageWalkTracker(PageWalk())
    assert tracker.try_split(0) == (PageWalk(None, 0), PageWalk())
    assert not tracker.try_claim(PageHold())
    tracker.check_done()


def test_a_released_hold_defers_the_whole_walk():
    walk = PageWalk(PagePosition(4, "t4"))
    tracker = PageWalkTracker(walk)
    assert tracker.try_claim(PageHold())
    with pytest.raises(ValueError, match="stopped before its last page"):
        tracker.check_done()
    assert tracker.try_claim(PageHold(release=True))
    primary, residual = tracker.try_split(0)
    assert primary.is_empty and residual == walk
    tracker.check_done()


def test_a_held_page_after_the_first_is_not_split_off_while_it_is_fetched():
    """A checkpoint (a split at 0) while page 1 is in flight is refused; after its claim the rest is handed on
    from page 2, so page 1 is fetched once."""
    tracker = PageWalkTracker(PageWalk())
    assert tracker.try_claim(PageHold()) and tracker.try_claim(step(0))
    assert tracker.try_claim(PageHold())
    assert tracker.try_split(0) is None and tracker.try_split(0.5) is None
    assert tracker.try_claim(step(1))
    assert tracker.try_split(0) == (PageWalk(None, 2), PageWalk(PagePosition(2, "t2"), None))
    tracker.check_done()


def test_a_hold_is_refused_once_the_next_page_was_split_off():
    tracker = PageWalkTracker(PageWalk())
    assert tracker.try_claim(PageHold()) and tracker.try_claim(step(0))
    assert tracker.try_split(0) == (PageWalk(None, 1), PageWalk(PagePosition(1, "t1"), None))
    assert not tracker.try_claim(PageHold())
    tracker.check_done()


def test_a_hold_is_refused_after_the_last_page():
    tracker = PageWalkTracker(PageWalk())
    assert tracker.try_claim(PageStep(PagePosition(0, None), None))
    assert not tracker.try_claim(PageHold())
    assert tracker.try_split(0) is None
