"""Limits that every request of a worker process shares: a token bucket and a concurrency cap."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class TokenBucket:
    """A thread-safe token bucket: `rate` tokens per second, at most `burst` saved up."""

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

    def acquire(self) -> float:
        """Take one token, waiting until one is free; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class RequestLimits:
    """The rate limit and the number of requests in flight, shared by all threads of a process."""

    def __init__(self, rate_limit: float | None, max_concurrent: int | None):
        self._bucket = TokenBucket(rate_limit) if rate_limit else None
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None

    @contextmanager
    def request_slot(self) -> Iterator[float]:
        """Hold a slot for one request; yields the seconds spent waiting for the rate limit."""
        if self._slots is not None:
            self._slots.acquire()
        try:
            yield self._bucket.acquire() if self._bucket is not None else 0.0
        finally:
            if self._slots is not None:
                self._slots.release()


_shared: dict[str, RequestLimits] = {}
_shared_lock = threading.Lock()


def shared_limits(key: str, rate_limit: float | None, max_concurrent: int | None) -> RequestLimits:
    """The process-wide RequestLimits for `key` (one per pipeline), created on first use."""
    with _shared_lock:
        if key not in _shared:
            _shared[key] = RequestLimits(rate_limit, max_concurrent)
        return _shared[key]
