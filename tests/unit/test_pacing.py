"""The pacers of each `rate_limit_mode` on a fake clock: the share as a hard cap, and the adaptive search for
the API's own limit (slow start, multiplicative decrease once per overload, additive increase)."""

from __future__ import annotations

import threading
import time

import pytest

from beam_api_pipeline.client.pacing import (
    ADDITIVE_STEP,
    DECREASE_FACTOR,
    AdaptivePacer,
    SharePacer,
    TokenBucket,
)
from beam_api_pipeline.client.rate_headers import RateLimitHint
from tests.unit.test_limits import FakeTime


def adaptive(fake: FakeTime, share: float = 0.4, ceiling: float = 40.0) -> AdaptivePacer:
    return AdaptivePacer(share, ceiling, clock=fake.clock, sleep=fake.sleep)


def test_adaptive_doubles_every_half_second_until_the_first_throttle_and_never_more_than_twice_an_answer():
    fake = FakeTime()
    pacer = adaptive(fake)
    rates = []
    for _ in range(4):
        fake.now += 0.5
        pacer.answered(None)
        rates.append(pacer.rate)
    fake.now += 3.0  # an idle process banks no growth: at most twice per answer
    pacer.answered(None)
    rates.append(pacer.rate)
    assert rates == pytest.approx([0.8, 1.6, 3.2, 6.4, 12.8])


def test_adaptive_cuts_once_per_overload_then_grows_by_a_step_of_the_ceiling_a_second():
    fake = FakeTime()
    pacer = adaptive(fake, share=20.0)
    pacer.throttled()
    pacer.throttled()  # the same overload: within the cooldown
    assert pacer.rate == pytest.approx(20.0 * DECREASE_FACTOR)
    fake.now += 0.4
    pacer.answered(None)  # still cooling down: no growth
    assert pacer.rate == pytest.approx(14.0)
    fake.now += 0.6
    pacer.answered(None)
    assert pacer.rate == pytest.approx(14.0 + 40.0 * ADDITIVE_STEP * 1.0)
    fake.now += 0.5
    pacer.throttled()
    assert pacer.rate == pytest.approx((14.0 + 1.6) * DECREASE_FACTOR)


def test_adaptive_treats_a_budget_near_zero_as_a_throttle_and_stays_within_floor_and_ceiling():
    fake = FakeTime()
    pacer = adaptive(fake, share=30.0)
    pacer.answered(RateLimitHint(remaining=2, reset_after=0.5, limit=40))  # 5 % of 40 left
    assert pacer.rate == pytest.approx(21.0)
    for _ in range(20):
        fake.now += 1.0
        pacer.answered(RateLimitHint(remaining=30, reset_after=0.2, limit=40))
    assert pacer.rate == 40.0
    for _ in range(40):
        fake.now += 1.0
        pacer.throttled()
    assert pacer.rate == pytest.approx(3.0)  # a tenth of where it started


def test_the_share_is_a_hard_cap_that_a_429_lowers_and_successes_win_back():
    fake = FakeTime()
    pacer = SharePacer(10, clock=fake.clock, sleep=fake.sleep)
    pacer.throttled()
    assert pacer.rate == 7.0
    for _ in range(20):
        pacer.answered(None)
    assert pacer.rate == 10.0  # each success wins back 2 % of the share, never more than the share
    pacer.answered(RateLimitHint(remaining=20, reset_after=4))
    assert pacer.rate == 5.0  # what is left, spread until the reset


def test_a_waiting_request_gets_its_token_at_the_new_rate_when_the_rate_rises():
    bucket = TokenBucket(0.2, burst=1)
    bucket.acquire()
    waited: list[float] = []
    waiter = threading.Thread(target=lambda: waited.append(bucket.acquire()))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.1)
    bucket.set_rate(50)
    waiter.join(timeout=10)
    assert time.monotonic() - started < 1.0  # not the 5 s the first rate would take
    assert 0.1 <= waited[0] < 1.0
