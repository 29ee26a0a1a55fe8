"""The pipeline's lease in the control store: one run of a pipeline at a time.

A run takes its pipeline's lease before it plans (`take`), renews it while it runs (`LeaseKeeper`) and releases it
at the end. A second run finds the lease held and waits for it (`wait`) or is refused naming the holder
(`LeaseHeldError`, exit 2). A lease whose holder stopped renewing it (the process died) expires after
`watermark_store.lease_ttl` and the next run takes it over. A run's commit moves its watermarks only while it
still holds the lease (`advance_holding`): a run that lost it (it stalled past its TTL and another run took the
lease) moves none (`LeaseLostError`). Every rule reads the time from a clock it is given, so
that expiry is tested without waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from beam_api_pipeline.core.errors import ConfigError, PipelineError
from beam_api_pipeline.core.windowing import format_utc

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Lease:
    """Who holds a pipeline's lease: the run, where it runs, since when and until when unless renewed."""

    pipeline_id: str
    run_id: str
    host: str
    taken_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        return (
            f"run {self.run_id} on {self.host} since {format_utc(self.taken_at)} "
            f"(lease until {format_utc(self.expires_at)})"
        )


class LeaseHeldError(ConfigError):
    """Another run holds the pipeline's lease."""

    def __init__(self, holder: Lease, waited: timedelta = timedelta(0)):
        """`waited`: how long the run waited for the lease (`--wait_for_lease`)."""
        self.holder = holder
        waited_text = f" after waiting {waited.total_seconds():g}s" if waited else ""
        super().__init__(
            f"pipeline {holder.pipeline_id} is already being run by {holder.describe()}{waited_text}: "
            "wait for it with --wait_for_lease SECONDS; a run that died frees it when its lease expires"
        )


class LeaseLostError(PipelineError):
    """Another run took this run's lease while it was writing: its watermarks are not moved."""

    def __init__(self, holder: Lease):
        self.holder = holder
        super().__init__(
            f"{taken_by(holder)}: its watermarks are not moved; the rows it wrote are read again by the next run"
        )


def taken_by(holder: Lease) -> str:
    """What a run that lost its lease to `holder` is told first (by its commit, or its LeaseKeeper)."""
    return (
        f"the lease of pipeline {holder.pipeline_id} was taken by run {holder.run_id} on {holder.host} since "
        f"{format_utc(holder.taken_at)} while this run was writing"
    )


def lost_while_running(holder: Lease) -> str:
    """The error of a run whose LeaseKeeper found its lease taken by `holder` although its commit held the lease
    again (`holder` had let it go by then) and moved the watermarks."""
    return (
        f"{taken_by(holder)} (it was not renewed within lease_ttl); the lease was free again at the commit, which "
        "moved the watermarks: rows both runs wrote may be written twice"
    )


def this_host() -> str:
    """The host and process that take a lease, e.g. `worker-1 pid 4242`."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def take(
    store,
    pipeline_id: str,
    run_id: str,
    ttl: timedelta,
    *,
    wait: timedelta = timedelta(0),
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    host: str | None = None,
) -> Lease:
    """Take `pipeline_id`'s lease for `run_id` until `ttl` from now, waiting up to `wait` for its holder to
    release it or let it expire; LeaseHeldError naming the holder when it is still held then."""
    started = clock()
    while True:
        now = clock()
        wanted = Lease(pipeline_id, run_id, host or this_host(), now, now + ttl)
        holder = store.take_lease(wanted, now)
        if holder.run_id == run_id:
            return holder
        left = started + wait - now
        if left <= timedelta(0):
            raise LeaseHeldError(holder, wait)
        logger.warning("waiting for the lease of %s: held by %s", pipeline_id, holder.describe())
        sleep(min(left, holder.expires_at - now, timedelta(seconds=5)).total_seconds() or 0.1)


def advance_holding(
    store,
    pipeline_id: str,
    run_id: str,
    ttl: timedelta,
    watermarks: dict[str, datetime],
    *,
    clock: Clock = utc_now,
    host: str | None = None,
) -> Lease:
    """Move each endpoint of `watermarks` to its watermark only if `run_id` still holds the lease, renewing it for
    `ttl` (or taking it again when it expired and nobody took it), in one step of the store
    (`advance_watermarks_holding`); the lease after. LeaseLostError naming the holder when another run holds it:
    no watermark moved. The same rule as `take`: the store's `take_lease`."""
    now = clock()
    wanted = Lease(pipeline_id, run_id, host or this_host(), now, now + ttl)
    holder = store.advance_watermarks_holding(wanted, now, watermarks)
    if holder.run_id != run_id:
        raise LeaseLostError(holder)
    return holder


class LeaseKeeper:
    """Renews a run's lease every third of its `ttl` on a thread of its own, with a store of its own (`open`),
    until `stop`. A renewal that finds the lease taken by another run (this one stopped renewing for longer than
    the TTL) is logged as an error and kept as `lost` (the first holder found), for the run's report."""

    def __init__(self, open_store: Callable[[], object], lease: Lease, ttl: timedelta, clock: Clock = utc_now):
        self._open = open_store
        self._lease = lease
        self._ttl = ttl
        self._clock = clock
        self._stop = threading.Event()
        self.lost: Lease | None = None
        self._thread = threading.Thread(target=self._renew_until_stopped, name="lease-keeper", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self._ttl.total_seconds() / 3):
            try:
                self.renew_once()
            except Exception as error:  # a store outage: the next renewal tries again
                logger.error("lease of %s not renewed: %s: %s", self._lease.pipeline_id, type(error).__name__, error)

    def renew_once(self) -> Lease:
        """Renew the lease; the holder after (another run's when this one lost it)."""
        with closing(self._open()) as store:
            now = self._clock()
            lease = self._lease
            holder = store.take_lease(Lease(lease.pipeline_id, lease.run_id, lease.host, now, now + self._ttl), now)
        if holder.run_id != lease.run_id:
            self.lost = self.lost or holder
            logger.error("run %s lost the lease of %s to %s", lease.run_id, lease.pipeline_id, holder.describe())
        return holder
