"""Every element and restriction that crosses a stage is plain values that Beam's compiled coders encode and
decode back equal, without pickling anything (docs/beam-time-flush-bug.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apache_beam.coders import Coder, FastPrimitivesCoder

from beam_api_pipeline.core.element_checks import not_plain
from beam_api_pipeline.core.packing import pack, unpack
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.fetch.range_rules import RangeTask
from beam_api_pipeline.fetch.walk_restriction import PageWalk, PageWalkProvider
from beam_api_pipeline.pagination import PagePosition
from beam_api_pipeline.pagination.base import WalkTally
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask
from beam_api_pipeline.records.dedup import bucketed

TASK = WindowTask(
    "items",
    Window(
        datetime(2024, 1, 1, 6, 30, 15, 250000, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
        timedelta(minutes=5, microseconds=7),
    ),
)
RECORDS = [{"id": 1, "title": "é \x85 \u2028", "tags": ["a", None], "score": 1.5, "ok": True, "n": -(2**63)}]


class RefusesPickling(Coder):
    """A fallback that fails the test whenever FastPrimitivesCoder would pickle a value."""

    def encode(self, value):
        raise AssertionError(f"{value!r} would be pickled")

    def decode(self, encoded):
        raise AssertionError("nothing was pickled")


NO_PICKLING = FastPrimitivesCoder(fallback_coder=RefusesPickling())


def round_trip(value):
    return NO_PICKLING.decode(NO_PICKLING.encode(value))


def test_a_window_task_travels_as_strings_and_comes_back_equal():
    element = TASK.to_element()
    assert element == ("items", "2024-01-01T06:30:15.250000Z", "2024-01-02T00:00:00Z", 300_000_007, None)
    assert WindowTask.from_element(round_trip(element)) == TASK


@pytest.mark.parametrize(
    "result",
    [
        WindowResult(TASK, WindowStatus.DONE, pages=3, records=250, retries=1, seconds=1.25, first_page=4, end_page=7),
        WindowResult(TASK, WindowStatus.DONE, 20, 2000, 0, None, None, 3.5, 0, 20, window_pages=20),
        WindowResult(TASK, WindowStatus.FAILED, 1, 0, 5, "GET /items: 503", "RetryableApiError", 0.5, 2, 3, 9),
    ],
)
def test_a_window_result_comes_back_equal(result):
    assert WindowResult.from_element(round_trip(result.to_element())) == result


def test_a_range_task_comes_back_equal_with_its_first_page():
    ranged = RangeTask(TASK, stop=20, parts=3, truncated=True, error=None, first_page=pack(RECORDS))
    back = RangeTask.from_element(round_trip(ranged.to_element()))
    assert back == ranged and unpack(back.first_page) == RECORDS


@pytest.mark.parametrize(
    "element",
    [
        (TASK.to_element(), RECORDS),  # a batch of rows
        *bucketed(TASK.to_element(), "items 2024-01-01T06:30:15.250000Z/2024-01-02T00:00:00Z", RECORDS, "id"),
        (TASK.to_element(), RECORDS[0], "updated_at: not a timestamp: None"),  # an invalid record
    ],
    ids=["batch", "keyed", "invalid"],
)
def test_record_elements_are_plain_values(element):
    assert not_plain(element) is None
    assert round_trip(element) == element


@pytest.mark.parametrize(
    "walk",
    [
        PageWalk(),
        PageWalk(None, 4),
        PageWalk(PagePosition(0).advance("c1").advance(2).advance({"after": "x"}), None),
        PageWalk(PagePosition(7, "https://api.example.com/items?page=8", (2**63 - 1, -(2**63))), 9),
        PageWalk(PagePosition(5, 40, (1, 2), WalkTally(start=3, fetched=20, announced=48, size=10, rereads=1))),
    ],
)
def test_a_page_walk_round_trips_through_its_coder_without_pickling(walk):
    coder = PageWalkProvider().restriction_coder()
    assert coder.is_deterministic()
    back = coder.decode(coder.encode(walk))
    assert back == walk
    assert (back.start and back.start.seen) == (walk.start and walk.start.seen)  # the loop guard's history too
    assert (back.start and back.start.tally) == (walk.start and walk.start.tally)  # and what the read has seen
    assert not_plain(walk.to_values()) is None
    assert PageWalk.from_values(round_trip(walk.to_values())) == walk


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (2**63, "the integer 9223372036854775808 does not fit in 64 bits"),
        ((1, [TASK]), "a beam_api_pipeline.plan.run_plan.WindowTask"),
        ({"at": datetime(2024, 1, 1)}, "a datetime.datetime"),
    ],
)
def test_values_that_would_be_pickled_are_named(value, problem):
    assert not_plain(value) == problem


def test_a_page_walk_encoded_before_the_walk_tally_was_kept_decodes_with_an_empty_tally():
    """F4: a walk checkpointed by an earlier version (`(stop_index, index, token, seen)`, no tally) still decodes
    after an update (Dataflow streaming keeps checkpointed walks): its read's tally starts empty."""
    coder = PageWalkProvider().restriction_coder()
    old = FastPrimitivesCoder().encode((9, 7, "c7", (1, 2)))
    walk = coder.decode(old)
    assert (walk.stop_index, walk.start, walk.start.seen, walk.start.tally) == (
        9,
        PagePosition(7, "c7"),
        (1, 2),
        WalkTally(),
    )
