"""Limits that every request of a worker process shares: a pacer (how fast, by `rate_limit_mode`), a
concurrency cap, and the API's own signals (429 answers, `RateLimit-*` / `X-RateLimit-*` headers) that pause
every thread at once.

A job-wide budget is divided between the processes that run the job (`share_of_budget`); each process holds
its part in one `RequestLimits`, shared by all its threads (`process_limits`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from beam_api_pipeline.client.pacing import AdaptivePacer, SharePacer
from beam_api_pipeline.client.rate_headers import RateLimitHint, header, parse_rate_limit_headers
from beam_api_pipeline.client.retry import parse_retry_after
from beam_api_pipeline.core import metrics

#: Below this fraction of `rate_limit` a process's share is too small to be what the user meant.
SMALL_SHARE = 0.1


class Pacer(Protocol):
    """How fast one process sends requests (`client.pacing`, `client.redis_bucket`)."""

    rate: float

    def acquire(self) -> float:
        """Wait until the next request may start; returns the seconds waited."""

    def throttled(self) -> None:
        """The API answered 429."""

    def answered(self, hint: RateLimitHint | None) -> None:
        """The API answered without throttling; `hint` is what its rate-limit headers said."""


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


def small_share_warning(mode: str, rate_limit: float | None, processes: int, where: str) -> str | None:
    """What to tell a user whose `share` of `rate_limit` is under `SMALL_SHARE` of it, with `processes`
    processes (`where` says where they come from); None when the share is not small or another mode is set."""
    if mode != "share" or not rate_limit or processes * SMALL_SHARE <= 1:
        return None
    share = rate_limit / processes
    return (
        f"rate_limit_mode share: each of {processes} processes ({where}) may send {share:.3g} requests/s, "
        f"{100 / processes:.2g} % of rate_limit {rate_limit:g}; give the number of workers the job needs "
        "(max_workers), or set rate_limit_mode: adaptive (the API's own limit is the budget) or shared "
        "(a Redis bucket for the whole job)"
    )


class JobSlots(Protocol):
    """A cap on requests in flight for the whole job (`client.redis_slots`)."""

    def acquire(self) -> str | None:
        """Wait for a slot; its id, or None when the cap cannot be held now (the process's share holds)."""

    def release(self, slot: str | None) -> None:
        """Give back the slot `acquire` returned."""


def in_flight_note(mode: str, max_concurrent: int, processes: int, where: str) -> tuple[str, bool]:
    """What a launch says of `max_concurrent` requests in flight for a job of `processes` processes (`where`
    says where the number comes from): each process's cap and the job-wide maximum they allow, and whether that
    maximum is above `max_concurrent` (never in `shared` mode, whose Redis slots hold the cap job-wide)."""
    share = share_of_budget(None, max_concurrent, processes).max_concurrent or 1
    most = share * max(1, processes)
    head = f"max_concurrent_requests {max_concurrent}: each of {processes} processes ({where}) holds at most {share}"
    if mode == "shared":
        return f"{head} request(s) in flight, and rate_limit_store holds the whole job to {max_concurrent}", False
    note = f"{head} request(s) in flight, so the whole job up to {most} at once"
    if most <= max_concurrent:
        return note, False
    return (
        f"{note}, {most / max_concurrent:.3g}x max_concurrent_requests; set rate_limit_mode: shared (Redis holds the "
        "cap for the whole job) or lower max_workers"
    ), True


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
    """The pace (`pacer`, None without a rate limit) and the number of requests in flight, shared by all
    threads of a process.

    `observe(status, headers)` feeds back each answer: a 429 tells the pacer and pauses every thread for its
    Retry-After; headers saying the budget is spent pause every thread until it resets.
    """

    def __init__(
        self,
        pacer: Pacer | None,
        max_concurrent: int | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        job_slots: JobSlots | None = None,
    ):
        self.pacer = pacer
        self._pause = Pause(clock, sleep)
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None
        self.job_slots = job_slots
        self._wall_clock = wall_clock
        self._throttle = ThrottleReporter()
        self.max_concurrent = max_concurrent

    @contextmanager
    def request_slot(self) -> Iterator[float]:
        """Hold a slot for one request (this process's, then the job's when `job_slots` holds the job-wide cap);
        yields the seconds spent waiting for the pace and pauses (already reported)."""
        if self._slots is not None:
            self._slots.acquire()
        job_slot = None
        try:
            waited = self._pause.wait()
            if self.pacer is not None:
                waited += self.pacer.acquire()
            self._throttle.report(waited)
            if self.job_slots is not None:
                job_slot = self.job_slots.acquire()
            yield waited
        finally:
            if self.job_slots is not None:
                self.job_slots.release(job_slot)
            if self._slots is not None:
                self._slots.release()

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Adapt to one answer of the API: its status and headers (Retry-After, RateLimit-*, X-RateLimit-*)."""
        hint = parse_rate_limit_headers(headers, self._wall_clock)
        if status == 429:
            if self.pacer is not None:
                self.pacer.throttled()
            retry_after = parse_retry_after(header(headers, "Retry-After"))
            if retry_after:
                self._pause.extend(retry_after)
                self._throttle.report(retry_after)
        elif status < 400 and self.pacer is not None:
            self.pacer.answered(hint)
        if hint is not None and hint.remaining == 0 and hint.reset_after > 0:
            self._pause.extend(hint.reset_after)

    def paused_for(self) -> float:
        """Seconds until the API lets requests through again (after a 429 or a spent budget); 0 when it does."""
        return self._pause.remaining()

    @property
    def rate(self) -> float | None:
        """The rate in force now (requests per second), None when there is no rate limit."""
        return self.pacer.rate if self.pacer is not None else None


@dataclass(frozen=True)
class LimitSettings:
    """What one process's RequestLimits are made of: the job's `rate_limit` in its `mode`, this process's
    `share` of it and of the concurrency cap, and for `shared` the Redis `store` (and its `password`, and for
    `rediss://` the PEM `ca` its server certificate is checked against), which also holds the job's
    `max_concurrent` requests in flight, each for at most a lease of the request `timeout` (`redis_slots`)."""

    pipeline_id: str
    mode: str
    rate_limit: float | None
    share: BudgetShare
    store: str | None = None
    password: str | None = field(default=None, repr=False)
    ca: str | None = field(default=None, repr=False)
    max_concurrent: int | None = None
    timeout: float = 30.0


def _pacer(settings: LimitSettings) -> Pacer | None:
    rate_limit, share = settings.rate_limit, settings.share.rate_limit
    if rate_limit is None or share is None:
        return None
    if settings.mode == "adaptive":
        return AdaptivePacer(share, rate_limit)
    if settings.mode == "shared":
        # Imported here: the Redis client takes a fifth of a second to import, and only this mode needs it.
        from beam_api_pipeline.client.redis_bucket import RedisPacer, bucket_key

        key = bucket_key(settings.pipeline_id)
        return RedisPacer(settings.store, settings.password, key, rate_limit, SharePacer(share), ca=settings.ca)
    return SharePacer(share)


def _job_slots(settings: LimitSettings) -> JobSlots | None:
    """The job-wide cap on requests in flight: in `shared` mode, slots in the Redis store."""
    if settings.mode != "shared" or not settings.max_concurrent or settings.store is None:
        return None
    from beam_api_pipeline.client.redis_bucket import store_client
    from beam_api_pipeline.client.redis_slots import RedisSlots, lease_seconds, slots_key

    client = store_client(settings.store, settings.password, settings.ca)
    return RedisSlots(client, slots_key(settings.pipeline_id), settings.max_concurrent, lease_seconds(settings.timeout))


_shared: dict[LimitSettings, RequestLimits] = {}
_shared_lock = threading.Lock()


def process_limits(settings: LimitSettings) -> RequestLimits:
    """The process-wide RequestLimits of `settings` (one per pipeline), created on first use."""
    with _shared_lock:
        if settings not in _shared:
            _shared[settings] = RequestLimits(
                _pacer(settings), settings.share.max_concurrent, job_slots=_job_slots(settings)
            )
        return _shared[settings]
