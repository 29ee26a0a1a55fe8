import threading
import time

import pytest

from beam_api_pipeline.client.limits import RequestLimits, share_of_budget, small_share_warning
from beam_api_pipeline.client.pacing import SharePacer, TokenBucket
from beam_api_pipeline.client.rate_headers import (
    RateLimitHint,
    parse_rate_limit_headers,
    remaining_requests,
    seconds_until_reset,
)

NOW = 1_700_000_000.0


class FakeTime:
    def __init__(self):
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_job_wide_rate_is_never_exceeded_over_any_second_by_more_than_the_burst():
    limits = RequestLimits(SharePacer(40), max_concurrent=None)
    granted: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 1.6

    def hammer():
        while time.monotonic() < deadline:
            with limits.request_slot(), lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted.sort()
    busiest = max(sum(1 for t in granted if start <= t < start + 1.0) for start in granted)
    assert busiest <= 40 + 40  # rate x 1 s + burst
    assert len(granted) >= 40 + 40 * 1.5  # and the limit is used, not starved


def test_share_of_budget_divides_rate_and_concurrency_between_processes():
    assert share_of_budget(100, 16, 1).__dict__ == {"rate_limit": 100, "max_concurrent": 16}
    assert share_of_budget(100, 16, 8).__dict__ == {"rate_limit": 12.5, "max_concurrent": 2}
    assert share_of_budget(None, 3, 8).__dict__ == {"rate_limit": None, "max_concurrent": 1}


def test_ratelimit_headers_in_seconds_and_github_epoch_form():
    assert parse_rate_limit_headers({"RateLimit-Remaining": "7", "RateLimit-Reset": "12"}) == RateLimitHint(7, 12.0)
    with_limit = {"RateLimit-Limit": "40", "RateLimit-Remaining": "7", "RateLimit-Reset": "0.250"}
    assert parse_rate_limit_headers(with_limit) == RateLimitHint(7, 0.25, limit=40)
    epoch = {"x-ratelimit-remaining": "0", "X-RateLimit-Reset": "1700000030"}
    assert parse_rate_limit_headers(epoch, now=lambda: 1700000000.0) == RateLimitHint(0, 30.0)
    assert parse_rate_limit_headers({"RateLimit-Remaining": "many", "RateLimit-Reset": "1"}) is None
    assert parse_rate_limit_headers({"Content-Type": "application/json"}) is None
    assert parse_rate_limit_headers({"RateLimit-Remaining": "7"}) is None
    assert parse_rate_limit_headers({"RateLimit-Reset": "7"}) is None


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"RateLimit-Reset": "12"}, 12.0),  # the IETF draft: seconds
        ({"X-RateLimit-Reset": "12.5"}, 12.5),
        ({"ratelimit-reset": " 0 "}, 0.0),
        ({"RateLimit-Reset": "1000000000"}, 1_000_000_000.0),  # the threshold itself is still seconds
        ({"X-RateLimit-Reset": "1700000030"}, 30.0),  # GitHub: epoch seconds
        ({"X-RateLimit-Reset": "1700000000.25"}, 0.25),
        ({"X-RateLimit-Reset": "1699999990"}, 0.0),  # a reset in the past: no wait
        ({"RateLimit-Reset": "5", "X-RateLimit-Reset": "1700000030"}, 5.0),  # the IETF header first
    ],
)
def test_seconds_until_reset_reads_seconds_and_epoch_timestamps(headers, wait):
    assert seconds_until_reset(headers, now=lambda: NOW) == wait


@pytest.mark.parametrize("value", ["", " ", "-5", "soon", "1e3", "nan", "inf", "0x10", "1,5", "+5"])
def test_seconds_until_reset_refuses_what_is_no_non_negative_number(value):
    assert seconds_until_reset({"RateLimit-Reset": value}, now=lambda: NOW) is None
    assert seconds_until_reset({}, now=lambda: NOW) is None


def test_remaining_requests_reads_either_header_and_never_goes_below_zero():
    assert remaining_requests({"RateLimit-Remaining": "7"}) == 7
    assert remaining_requests({"x-ratelimit-remaining": " 0 "}) == 0
    assert remaining_requests({"X-RateLimit-Remaining": "-1"}) == 0
    assert remaining_requests({"X-RateLimit-Remaining": "many"}) is None
    assert remaining_requests({}) is None


def test_a_429_slows_the_rate_and_pauses_every_request_for_its_retry_after():
    fake = FakeTime()
    limits = RequestLimits(SharePacer(10, fake.clock, fake.sleep), None, clock=fake.clock, sleep=fake.sleep)
    limits.observe(429, {"Retry-After": "3"})
    assert limits.rate == 7.0
    assert limits.paused_for() == 3.0
    with limits.request_slot() as waited:
        assert waited == 3.0
    for _ in range(5):
        limits.observe(200, {})
    assert limits.rate == 8.0  # each success wins back 2 % of the configured rate


def test_a_spent_budget_pauses_until_its_reset_and_a_low_one_is_spread_out():
    fake = FakeTime()
    pacer = SharePacer(50, fake.clock, fake.sleep)
    limits = RequestLimits(pacer, None, clock=fake.clock, sleep=fake.sleep, wall_clock=lambda: 0.0)
    limits.observe(200, {"X-RateLimit-Remaining": "20", "X-RateLimit-Reset": "4"})
    assert limits.rate == 5.0
    limits.observe(200, {"RateLimit-Remaining": "0", "RateLimit-Reset": "2"})
    assert limits.paused_for() == 2.0


def test_without_a_rate_limit_a_429_still_pauses_requests():
    fake = FakeTime()
    limits = RequestLimits(None, 2, clock=fake.clock, sleep=fake.sleep)
    limits.observe(429, {"Retry-After": "1"})
    with limits.request_slot() as waited:
        assert waited == 1.0
    assert limits.rate is None


def test_token_bucket_waits_for_tokens_after_its_burst():
    fake = FakeTime()
    bucket = TokenBucket(4, burst=2, clock=fake.clock, sleep=fake.sleep)
    assert [bucket.acquire(), bucket.acquire()] == [0.0, 0.0]
    assert bucket.acquire() == 0.25


def test_a_share_under_a_tenth_of_the_rate_limit_is_named_with_what_to_set():
    assert small_share_warning("share", 10, 400, "max_num_workers") == (
        "rate_limit_mode share: each of 400 processes (max_num_workers) may send 0.025 requests/s, 0.25 % of "
        "rate_limit 10; give the number of workers the job needs (max_workers), or set rate_limit_mode: adaptive "
        "(the API's own limit is the budget) or shared (a Redis bucket for the whole job)"
    )
    assert small_share_warning("share", 10, 10, "direct_num_workers") is None  # a tenth is what was asked for
    assert small_share_warning("adaptive", 10, 400, "max_num_workers") is None
    assert small_share_warning("share", None, 400, "max_num_workers") is None
