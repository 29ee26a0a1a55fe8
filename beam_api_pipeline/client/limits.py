"""Limits that every request of a worker process shares: a token bucket, a concurrency cap, and the API's own
signals (429 answers, ``RateLimit-*`` / ``X-RateLimit-*`` headers) that slow every thread down at once.

A job-wide budget is divided between the processes that run the job (`share_of_budget`); each process holds
its share in one `RequestLimits`, shared by all its threads (`shared_limits`).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from beam_api_pipeline import metrics
from beam_api_pipeline.client.retry import parse_retry_after

#: After a 429 the rate drops to this fraction of what it was; each success wins back `RECOVERY_STEP`.
SLOWDOWN_FACTOR = 0.7
RECOVERY_STEP = 0.02
#: The slowest rate a 429 can push the limiter to, as a fraction of the configured rate.
MIN_RATE_FRACTION = 0.1
#: A reset value above this is an epoch timestamp (GitHub's `X-RateLimit-Reset`), not a number of seconds (the
#: IETF draft's `RateLimit-Reset`): 1e9 seconds is 31 years, and as a time it is September 2001.
EPOCH_THRESHOLD = 1_000_000_000
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class BudgetShare:
    """What one process may use of the job's budget."""

    rate_limit: float | None
    max_concurrent: int | None


def share_of_budget(rate_limit: float | None, max_concurrent: int | None, processes: int) -> BudgetShare:
    """The share of one of `processes` processes: `rate_limit / processes` requests per second and
    `ceil(max_concurrent / processes)` requests in flight (at least one)."""
    processes = max(1, processes)
    return BudgetShare(
        rate_limit / processes if rate_limit else None,
        max(1, math.ceil(max_concurrent / processes)) if max_concurrent else None,
    )


@dataclass(frozen=True)
class RateLimitHint:
    """What an answer's headers say about the budget left: `remaining` requests until `reset_after` seconds."""

    remaining: int
    reset_after: float


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def remaining_requests(headers: Mapping[str, str]) -> int | None:
    """The requests left in the budget (`RateLimit-Remaining` or `X-RateLimit-Remaining`, at least 0); None when
    absent or not an integer."""
    remaining = _header(headers, "RateLimit-Remaining", "X-RateLimit-Remaining")
    try:
        return max(0, int(remaining.strip())) if remaining is not None else None
    except ValueError:
        return None


def seconds_until_reset(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds until the budget resets (`RateLimit-Reset` or `X-RateLimit-Reset`, at least 0): a number of
    seconds, or an epoch timestamp when above `EPOCH_THRESHOLD`; None when absent or not a non-negative number."""
    reset = _header(headers, "RateLimit-Reset", "X-RateLimit-Reset")
    if reset is None or not _NUMBER.fullmatch(reset.strip()):
        return None
    value = float(reset)
    return max(0.0, value - now()) if value > EPOCH_THRESHOLD else value


def parse_rate_limit_headers(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> RateLimitHint | None:
    """What the `RateLimit-*` or `X-RateLimit-*` headers say (`remaining_requests`, `seconds_until_reset`);
    None when either is absent or unreadable."""
    remaining, reset_after = remaining_requests(headers), seconds_until_reset(headers, now)
    if remaining is None or reset_after is None:
        return None
    return RateLimitHint(remaining, reset_after)


class TokenBucket:
    """A thread-safe token bucket: `rate` tokens per second, at most `burst` saved up; the rate can be lowered
    for a while (`set_rate`) and raised back up to `configured_rate`."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.configured_rate = rate
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> float:
        """Take one token, waiting until one is free; returns the seconds waited."""
        with self._lock:
            self._refill()
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def set_rate(self, rate: float) -> None:
        """Hand out tokens at `rate` from now on (the burst stays)."""
        with self._lock:
            self._refill()
            self.rate = rate


class Pause:
    """A time before which no request may start, set by the API's answers and shared by all threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock = clock
        self._sleep = sleep
        self._until = 0.0
        self._lock = threading.Lock()

    def extend(self, seconds: float) -> None:
        """No request starts during the next `seconds` (an earlier, longer pause stays)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def remaining(self) -> float:
        """Seconds until the pause ends (0 when there is none)."""
        with self._lock:
            return max(0.0, self._until - self._clock())

    def wait(self) -> float:
        """Wait until the pause ends; returns the seconds waited."""
        remaining = self.remaining()
        if remaining > 0:
            self._sleep(remaining)
        return remaining


class ThrottleReporter:
    """Adds throttled time to `throttled_msecs` and, in whole seconds, to `cumulativeThrottlingSeconds`, the
    counter Dataflow's autoscaler reads (as `apache_beam.io.components.adaptive_throttler.ThrottlingSignaler`)."""

    def __init__(self) -> None:
        self._pending = 0.0
        self._lock = threading.Lock()

    def report(self, seconds: float) -> None:
        if seconds <= 0:
            return
        metrics.THROTTLED_MSECS.inc(int(seconds * 1000))
        with self._lock:
            self._pending += seconds
            whole = int(self._pending)
            self._pending -= whole
        if whole:
            metrics.THROTTLING_SECONDS.inc(whole)


class RequestLimits:
    """The rate limit and the number of requests in flight, shared by all threads of a process.

    `observe(status, headers)` feeds back each answer: a 429 lowers the rate (to `SLOWDOWN_FACTOR` of it)
    and pauses every thread for its Retry-After; headers saying the budget is spent pause every thread
    until it resets, and a low budget spreads what is left over the time until the reset.
    """

    def __init__(
        self,
        rate_limit: float | None,
        max_concurrent: int | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._bucket = TokenBucket(rate_limit, clock=clock, sleep=sleep) if rate_limit else None
        self._pause = Pause(clock, sleep)
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None
        self._wall_clock = wall_clock
        self._throttle = ThrottleReporter()
        self.max_concurrent = max_concurrent

    @contextmanager
    def request_slot(self) -> Iterator[float]:
        """Hold a slot for one request; yields the seconds spent waiting for the limits (already reported)."""
        if self._slots is not None:
            self._slots.acquire()
        try:
            waited = self._pause.wait()
            if self._bucket is not None:
                waited += self._bucket.acquire()
            self._throttle.report(waited)
            yield waited
        finally:
            if self._slots is not None:
                self._slots.release()

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Adapt to one answer of the API: its status and headers (Retry-After, RateLimit-*, X-RateLimit-*)."""
        if status == 429:
            self._slow_down(parse_retry_after(_header(headers, "Retry-After")))
        elif status < 400 and self._bucket is not None and self._bucket.rate < self._bucket.configured_rate:
            bucket = self._bucket
            bucket.set_rate(min(bucket.configured_rate, bucket.rate + bucket.configured_rate * RECOVERY_STEP))
        hint = parse_rate_limit_headers(headers, self._wall_clock)
        if hint is None:
            return
        if hint.remaining == 0 and hint.reset_after > 0:
            self._pause.extend(hint.reset_after)
        elif self._bucket is not None and hint.reset_after > 0:
            spread = hint.remaining / hint.reset_after
            if spread < self._bucket.rate:
                self._bucket.set_rate(max(spread, self._bucket.configured_rate * MIN_RATE_FRACTION))

    def _slow_down(self, retry_after: float | None) -> None:
        if self._bucket is not None:
            floor = self._bucket.configured_rate * MIN_RATE_FRACTION
            self._bucket.set_rate(max(floor, self._bucket.rate * SLOWDOWN_FACTOR))
        if retry_after:
            self._pause.extend(retry_after)
            self._throttle.report(retry_after)

    def paused_for(self) -> float:
        """Seconds until the API lets requests through again (after a 429 or a spent budget); 0 when it does."""
        return self._pause.remaining()

    @property
    def rate(self) -> float | None:
        """The rate in force now (requests per second), None when there is no rate limit."""
        return self._bucket.rate if self._bucket is not None else None


_shared: dict[tuple[str, float | None, int | None], RequestLimits] = {}
_shared_lock = threading.Lock()


def shared_limits(key: str, rate_limit: float | None, max_concurrent: int | None) -> RequestLimits:
    """The process-wide RequestLimits for `key` (one per pipeline) and these limits, created on first use."""
    with _shared_lock:
        entry = (key, rate_limit, max_concurrent)
        if entry not in _shared:
            _shared[entry] = RequestLimits(rate_limit, max_concurrent)
        return _shared[entry]
