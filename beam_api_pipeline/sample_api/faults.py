"""Faults the sample API injects on its data routes: latency, 500s, 429s, failing windows, foreign or looping
next-page links. A `Faults` is immutable; `FaultState` holds its running state (draws, counts, token bucket)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from beam_api_pipeline.sample_api.data import parse_instant


def _parses(text: str) -> bool:
    try:
        parse_instant(text)
    except (ValueError, OverflowError, OSError):
        return False
    return True


@dataclass(frozen=True)
class Faults:
    """The faults the data endpoints inject; replace them whole (`SampleApi.set_faults`), never mutate.

    `next_url_host` (an origin) makes next-page links (body and `Link` header) point to another host;
    `loop_from_page` (N > 1) makes page N and later link back to page 2: a pagination loop.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit: float | None = None
    rate_limit_every: int = 0
    retry_after: str = "1"
    fail_since: frozenset[str] = field(default_factory=frozenset)
    seed: int = 0
    next_url_host: str | None = None
    loop_from_page: int = 0

    def __post_init__(self) -> None:
        fail_since: Iterable[str] | str = self.fail_since  # a set, a list or a single string
        object.__setattr__(self, "fail_since", frozenset([fail_since] if isinstance(fail_since, str) else fail_since))
        problems = [
            message
            for failed, message in (
                (self.latency_ms < 0, "latency_ms must be >= 0"),
                (not 0 <= self.error_rate <= 1, "error_rate must be between 0 and 1"),
                (self.rate_limit is not None and self.rate_limit <= 0, "rate_limit must be > 0 or None"),
                (self.rate_limit_every < 0, "rate_limit_every must be >= 0"),
                (self.loop_from_page < 0, "loop_from_page must be >= 0"),
                (
                    self.next_url_host is not None and not urlsplit(self.next_url_host).netloc,
                    "next_url_host must be an origin like http://other-host:8080",
                ),
            )
            if failed
        ]
        problems += [f"fail_since: not a date-time: {text!r}" for text in self.fail_since if not _parses(text)]
        if problems:
            raise ValueError("; ".join(problems))

    def fail_since_instants(self) -> frozenset[datetime]:
        """`fail_since` parsed to datetimes."""
        return frozenset(parse_instant(text) for text in self.fail_since)


class _TokenBucket:
    """`rate` tokens a second, holding at most max(1, rate); not thread-safe on its own."""

    def __init__(self, rate: float):
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class FaultState:
    """One `Faults` with its running state: random draws, the every-Nth count, the token bucket."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self.fail_instants = faults.fail_since_instants()
        self._lock = threading.Lock()
        self._rng = random.Random(faults.seed)
        self._bucket = _TokenBucket(faults.rate_limit) if faults.rate_limit else None
        self._count = 0

    def rate_limited(self) -> bool:
        """Count one data request; True if it must answer 429."""
        with self._lock:
            self._count += 1
            every = self.faults.rate_limit_every
            if every and self._count % every == 0:
                return True
            return self._bucket is not None and not self._bucket.take()

    def random_failure(self) -> bool:
        """True for the `error_rate` fraction of calls, in the seeded order."""
        if self.faults.error_rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.faults.error_rate
