from datetime import UTC, datetime

from apache_beam.io.restriction_trackers import OffsetRange

from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.fetch.range_restriction import OffsetRangeCoder, PageRangeProvider
from beam_api_pipeline.fetch.range_rules import RangeTask
from beam_api_pipeline.plan.run_plan import WindowTask

TASK = WindowTask("items", Window(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)))
PROVIDER = PageRangeProvider()


def test_a_range_task_starts_as_its_pages_split_into_its_parts():
    element = RangeTask(TASK, 20, 3).to_element()
    restriction = PROVIDER.initial_restriction(element)
    assert restriction == OffsetRange(0, 20)
    assert list(PROVIDER.split(element, restriction)) == [OffsetRange(0, 6), OffsetRange(6, 13), OffsetRange(13, 20)]
    assert PROVIDER.restriction_size(element, OffsetRange(6, 13)) == 7


def test_try_split_hands_the_unclaimed_pages_to_the_residual():
    tracker = PROVIDER.create_tracker(OffsetRange(0, 10))
    assert tracker.try_claim(0) and tracker.try_claim(1)
    primary, residual = tracker.try_split(0.5)
    assert (primary, residual) == (OffsetRange(0, 5), OffsetRange(5, 10))  # half of the 8 unclaimed pages
    assert tracker.try_claim(4) and not tracker.try_claim(5)
    tracker.check_done()


def test_checkpoint_before_the_first_claim_defers_every_page():
    tracker = PROVIDER.create_tracker(OffsetRange(4, 9))
    assert tracker.try_split(0) == (OffsetRange(4, 4), OffsetRange(4, 9))
    tracker.check_done()


def test_a_page_range_round_trips_through_its_coder():
    coder = PROVIDER.restriction_coder()
    assert isinstance(coder, OffsetRangeCoder) and coder.is_deterministic()
    assert coder.decode(coder.encode(OffsetRange(3, 17))) == OffsetRange(3, 17)
