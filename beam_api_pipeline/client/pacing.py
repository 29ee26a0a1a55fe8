"""Pacers: how fast one process sends requests, by `rate_limit_mode`.

A pacer hands out one request at a time (`acquire`, which waits as long as the pace needs) and hears how the
API answered (`throttled`, `answered`). Each process holds one pacer, shared by all its threads:

- `SharePacer` (`share`): a token bucket at this process's share of `rate_limit`; a 429 slows it down and
  successes win the share back, never more. A hard cap with no coordination.
- `AdaptivePacer` (`adaptive`): starts from the share and raises its rate while the API answers without
  throttling (doubling every `DOUBLING_SECONDS` until the first throttle, then adding `ADDITIVE_STEP` of
  `rate_limit` a second), and cuts it to `DECREASE_FACTOR` on a 429 or a budget header near zero (additive
  increase, multiplicative decrease). Each process may reach `rate_limit`, so the job as a whole may pass it:
  the API's own limit is the budget.
- `redis_bucket.RedisPacer` (`shared`): one token bucket in Redis for every process of the job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from beam_api_pipeline.client.rate_headers import RateLimitHint

#: Share mode: after a 429 the rate drops to this fraction of what it was; each success wins back
#: `RECOVERY_STEP` of the share.
SLOWDOWN_FACTOR = 0.7
RECOVERY_STEP = 0.02
#: The slowest rate throttling can push a pacer to, as a fraction of where it started.
MIN_RATE_FRACTION = 0.1
#: Adaptive mode: the rate doubles every `DOUBLING_SECONDS` until the first throttle (at most once per
#: answer), then grows by `ADDITIVE_STEP` of `rate_limit` a second (counting at most `MAX_GROWTH_SECONDS` between
#: two answers, so an idle process does not bank growth it never tried).
DOUBLING_SECONDS = 0.25
ADDITIVE_STEP = 0.04
MAX_GROWTH_SECONDS = 1.0
#: Adaptive mode: a throttle signal cuts the rate to this fraction; signals within `DECREASE_COOLDOWN` seconds
#: of a cut are one overload, cut once (like TCP's one decrease per round trip).
DECREASE_FACTOR = 0.7
DECREASE_COOLDOWN = 0.5
#: The longest a waiting request sleeps before it looks at the bucket again.
MAX_NAP_SECONDS = 0.25
#: A `RateLimit-Remaining` at or below this fraction of `RateLimit-Limit` (or 1 without a limit) is "near zero".
NEAR_ZERO_FRACTION = 0.05


class TokenBucket:
    """A thread-safe token bucket: `rate` tokens per second, at most `burst` saved up; `set_rate` changes the
    rate from now on, for the requests already waiting too (they wait in naps of at most `MAX_NAP_SECONDS`)."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
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
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                nap = min(MAX_NAP_SECONDS, (1 - self._tokens) / self.rate)
            self._sleep(nap)
            waited += nap

    def set_rate(self, rate: float) -> None:
        """Hand out tokens at `rate` from now on (the burst stays)."""
        with self._lock:
            self._refill()
            self.rate = rate


def near_zero(hint: RateLimitHint) -> bool:
    """Whether the budget the headers report is all but spent."""
    if hint.limit:
        return hint.remaining <= hint.limit * NEAR_ZERO_FRACTION
    return hint.remaining <= 1


class _BucketPacer:
    """A pacer whose pace is one TokenBucket, `_bucket`."""

    _bucket: TokenBucket

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def acquire(self) -> float:
        return self._bucket.acquire()


class SharePacer(_BucketPacer):
    """This process's share of `rate_limit` as a hard cap: a 429 slows it to `SLOWDOWN_FACTOR` of its rate,
    each success wins back `RECOVERY_STEP` of the share, and a low budget in the headers spreads what is left
    over the time until it resets."""

    def __init__(
        self,
        share: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.share = share
        self._bucket = TokenBucket(share, clock=clock, sleep=sleep)

    def throttled(self) -> None:
        self._bucket.set_rate(max(self.share * MIN_RATE_FRACTION, self.rate * SLOWDOWN_FACTOR))

    def answered(self, hint: RateLimitHint | None) -> None:
        if self.rate < self.share:
            self._bucket.set_rate(min(self.share, self.rate + self.share * RECOVERY_STEP))
        if hint is not None and hint.reset_after > 0:
            spread = hint.remaining / hint.reset_after
            if spread < self.rate:
                self._bucket.set_rate(max(spread, self.share * MIN_RATE_FRACTION))


class AdaptivePacer(_BucketPacer):
    """Starts at `share` and finds the rate the API allows (see the module's docstring), between
    `MIN_RATE_FRACTION` of the share and `ceiling` (the job's `rate_limit`)."""

    def __init__(
        self,
        share: float,
        ceiling: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.floor = share * MIN_RATE_FRACTION
        self.ceiling = max(ceiling, share)
        self._clock = clock
        self._bucket = TokenBucket(share, burst=1.0, clock=clock, sleep=sleep)
        self._slow_start = True
        self._grown_at = self._cut_at = clock() - DECREASE_COOLDOWN
        self._lock = threading.Lock()

    def throttled(self) -> None:
        with self._lock:
            now = self._clock()
            if now - self._cut_at < DECREASE_COOLDOWN:
                return
            self._cut_at = self._grown_at = now
            self._slow_start = False
            self._bucket.set_rate(max(self.floor, self.rate * DECREASE_FACTOR))

    def answered(self, hint: RateLimitHint | None) -> None:
        if hint is not None and near_zero(hint):
            self.throttled()
            return
        with self._lock:
            now = self._clock()
            if now - self._cut_at < DECREASE_COOLDOWN:
                return
            elapsed = min(now - self._grown_at, MAX_GROWTH_SECONDS)
            self._grown_at = now
            if self._slow_start:
                grown = self.rate * min(2.0, 2 ** (elapsed / DOUBLING_SECONDS))
            else:
                grown = self.rate + self.ceiling * ADDITIVE_STEP * elapsed
            self._bucket.set_rate(min(self.ceiling, grown))
