from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import tenacity.wait

from beam_api_pipeline.client.retry import RetryPolicy, parse_retry_after
from beam_api_pipeline.config import RetryConfig
from beam_api_pipeline.core.errors import ApiError, RateLimitedError, RetryableApiError


class FakeClock:
    """A clock that only moves when the policy sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def failing(errors: list[Exception], result: str = "ok"):
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return attempt, calls


def policy(clock: FakeClock, **config) -> RetryPolicy:
    return RetryPolicy(RetryConfig(**config), sleep=clock.sleep, clock=clock)


def test_backoff_doubles_up_to_max_delay_without_jitter():
    clock = FakeClock()
    attempt, calls = failing([RetryableApiError("boom")] * 5)
    retry = policy(clock, max_attempts=6, base_delay=1.0, max_delay=5, jitter=False)
    assert retry.call(attempt) == "ok"
    assert clock.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert len(calls) == 6


def test_jitter_keeps_each_wait_between_half_and_full_backoff():
    clock = FakeClock()
    attempt, _ = failing([RetryableApiError("boom")] * 4)
    retry = policy(clock, max_attempts=5, base_delay=2.0, max_delay=60, jitter=True)
    retry.call(attempt)
    for wait, full in zip(clock.sleeps, [2.0, 4.0, 8.0, 16.0], strict=True):
        assert full / 2 <= wait <= full


@pytest.mark.parametrize(("draw", "expected"), [("low", [1.0, 2.0, 4.0, 5.0]), ("high", [2.0, 4.0, 8.0, 10.0])])
def test_jitter_draws_each_wait_from_the_upper_half_of_the_capped_backoff(monkeypatch, draw, expected):
    pick = {"low": lambda low, high: low, "high": lambda low, high: high}[draw]
    monkeypatch.setattr(tenacity.wait, "random", SimpleNamespace(uniform=pick))  # the draw tenacity makes
    clock = FakeClock()
    attempt, _ = failing([RetryableApiError("boom")] * 4)
    policy(clock, max_attempts=5, base_delay=2.0, max_delay=10, jitter=True).call(attempt)
    assert clock.sleeps == expected


def test_gives_up_after_max_attempts_with_the_last_error():
    clock = FakeClock()
    attempt, calls = failing([RetryableApiError(f"boom {i}") for i in range(10)])
    with pytest.raises(RetryableApiError, match="boom 2"):
        policy(clock, max_attempts=3, base_delay=1, jitter=False).call(attempt)
    assert len(calls) == 3
    assert clock.sleeps == [1.0, 2.0]


def test_gives_up_before_a_wait_would_pass_max_time():
    clock = FakeClock()
    attempt, calls = failing([RetryableApiError("boom")] * 10)
    with pytest.raises(RetryableApiError):
        policy(clock, max_attempts=10, max_time=10, base_delay=2, max_delay=60, jitter=False).call(attempt)
    assert clock.sleeps == [2.0, 4.0]  # the next wait (8 s) would end at 14 s > 10 s
    assert len(calls) == 3


def test_gives_up_when_the_next_wait_would_end_exactly_at_max_time():
    clock = FakeClock()
    attempt, calls = failing([RetryableApiError("boom")] * 10)
    with pytest.raises(RetryableApiError):
        policy(clock, max_attempts=10, max_time=6, base_delay=2, max_delay=60, jitter=False).call(attempt)
    assert clock.sleeps == [2.0]  # the next wait (4 s) would end at 6 s
    assert len(calls) == 2


def test_time_spent_in_attempts_counts_towards_max_time():
    clock = FakeClock()
    calls = []

    def slow_attempt():
        calls.append(clock.now)
        clock.now += 3  # each attempt takes 3 s
        raise RetryableApiError("slow")

    with pytest.raises(RetryableApiError):
        policy(clock, max_attempts=10, max_time=10, base_delay=1, max_delay=60, jitter=False).call(slow_attempt)
    assert calls == [0.0, 4.0, 9.0]  # the third fails at 12 s, past max_time
    assert clock.sleeps == [1.0, 2.0]


def test_non_retryable_errors_are_raised_at_once():
    clock = FakeClock()
    attempt, calls = failing([ApiError("403 forbidden", status=403)])
    with pytest.raises(ApiError, match="403 forbidden"):
        policy(clock).call(attempt)
    assert len(calls) == 1 and clock.sleeps == []


def test_retry_after_longer_than_backoff_is_honoured():
    clock = FakeClock()
    attempt, _ = failing([RateLimitedError("429", retry_after=7)])
    policy(clock, base_delay=1, jitter=False).call(attempt)
    assert clock.sleeps == [7]


def test_retry_after_zero_still_backs_off():
    clock = FakeClock()
    attempt, _ = failing([RateLimitedError("429", retry_after=0)] * 3)
    policy(clock, base_delay=0.5, jitter=False).call(attempt)
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_on_retry_is_told_each_error_and_wait():
    clock = FakeClock()
    seen = []
    attempt, _ = failing([RetryableApiError("a"), RateLimitedError("b", retry_after=3)])
    policy(clock, base_delay=1, jitter=False).call(attempt, on_retry=lambda e, w: seen.append((str(e), w)))
    assert seen == [("a", 1.0), ("b", 3.0)]


def test_parse_retry_after_reads_seconds_and_http_dates():
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=lambda: now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=lambda: now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
