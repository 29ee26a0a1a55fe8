"""The lease rules every control store must keep (`watermark.lease`), for the tests of each store: a test module
imports these tests and gives them its own `store` fixture and `new_store` (a callable opening another
connection to the same store, as another process would)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from beam_api_pipeline.control import lease
from beam_api_pipeline.control.lease import Lease, LeaseHeldError, LeaseLostError
from tests.support import t

TTL = timedelta(minutes=5)
T0 = t("2024-01-01T12:00:00")


class Clock:
    """An injected clock: `now()` is `moment`, which the test moves."""

    def __init__(self, moment=T0):
        self.moment = moment

    def __call__(self):
        return self.moment


def take(store, run_id: str, clock: Clock, host: str = "host-a pid 1", **options) -> Lease:
    return lease.take(store, "p", run_id, TTL, clock=clock, host=host, **options)


def test_a_free_lease_is_taken_and_held_until_the_ttl(store):
    clock = Clock()
    taken = take(store, "r1", clock)
    assert taken == Lease("p", "r1", "host-a pid 1", T0, T0 + TTL)
    assert store.get_lease("p", T0 + TTL - timedelta(microseconds=1)) == taken
    assert store.get_lease("p", T0 + TTL) is None
    assert store.get_lease("other", T0) is None


def test_a_held_lease_refuses_another_run_naming_the_holder(store):
    clock = Clock()
    take(store, "r1", clock)
    clock.moment = T0 + timedelta(minutes=1)
    with pytest.raises(LeaseHeldError) as refused:
        take(store, "r2", clock, host="host-b pid 2")
    assert str(refused.value) == (
        "pipeline p is already being run by run r1 on host-a pid 1 since 2024-01-01T12:00:00Z "
        "(lease until 2024-01-01T12:05:00Z): wait for it with --wait_for_lease SECONDS; "
        "a run that died frees it when its lease expires"
    )
    assert store.get_lease("p", clock.moment).run_id == "r1"


def test_a_renewal_keeps_the_start_and_moves_the_expiry(store):
    clock = Clock()
    take(store, "r1", clock)
    clock.moment = T0 + timedelta(minutes=4)
    renewed = take(store, "r1", clock, host="host-a pid 1")
    assert renewed == Lease("p", "r1", "host-a pid 1", T0, T0 + timedelta(minutes=9))
    clock.moment = T0 + timedelta(minutes=6)  # past the first expiry, within the renewed one
    with pytest.raises(LeaseHeldError):
        take(store, "r2", clock)


def test_an_expired_lease_is_taken_over(store):
    clock = Clock()
    take(store, "r1", clock)
    clock.moment = T0 + TTL
    taken = take(store, "r2", clock, host="host-b pid 2")
    assert taken == Lease("p", "r2", "host-b pid 2", T0 + TTL, T0 + 2 * TTL)
    assert store.get_lease("p", clock.moment) == taken


def test_a_released_lease_is_free_and_only_its_holder_releases_it(store):
    clock = Clock()
    take(store, "r1", clock)
    store.release_lease("p", "r2")
    assert store.get_lease("p", T0).run_id == "r1"
    store.release_lease("p", "r1")
    assert store.get_lease("p", T0) is None
    assert take(store, "r2", clock).run_id == "r2"


def test_a_run_waits_for_the_lease_until_it_is_released(store):
    clock = Clock()
    take(store, "r1", clock)
    waits = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.moment += timedelta(seconds=seconds)
        if len(waits) == 2:
            store.release_lease("p", "r1")

    taken = take(store, "r2", clock, wait=timedelta(seconds=30), sleep=sleep)
    assert (taken.run_id, waits) == ("r2", [5.0, 5.0])
    with pytest.raises(LeaseHeldError, match="after waiting 10s"):
        take(store, "r3", clock, wait=timedelta(seconds=10), sleep=sleep)


def test_two_runs_racing_for_a_free_lease_one_wins(new_store):
    winners, refused = [], []
    start = threading.Barrier(2)

    def race(run_id: str) -> None:
        store = new_store()
        try:
            start.wait()
            winners.append(take(store, run_id, Clock(), host=f"host-{run_id}").run_id)
        except LeaseHeldError as error:
            refused.append(error.holder.run_id)
        finally:
            store.close()

    threads = [threading.Thread(target=race, args=(run_id,)) for run_id in ("r1", "r2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and refused == winners
    store = new_store()
    try:
        assert store.get_lease("p", T0).run_id == winners[0]
    finally:
        store.close()


def advance(store, run_id: str, clock: Clock, watermarks: dict, host: str = "host-a pid 1") -> Lease:
    return lease.advance_holding(store, "p", run_id, TTL, watermarks, clock=clock, host=host)


def test_the_holder_moves_its_watermarks_and_renews_its_lease(store):
    clock = Clock()
    take(store, "r1", clock)
    clock.moment = T0 + timedelta(minutes=4)
    held = advance(store, "r1", clock, {"items": t("2024-01-02"), "users": t("2024-01-03")})
    assert held == Lease("p", "r1", "host-a pid 1", T0, T0 + timedelta(minutes=9))
    assert (store.get_watermark("p", "items"), store.get_watermark("p", "users")) == (t("2024-01-02"), t("2024-01-03"))


def test_a_run_whose_expired_lease_nobody_took_takes_it_again_and_moves_its_watermarks(store):
    clock = Clock()
    take(store, "r1", clock)
    clock.moment = T0 + 2 * TTL
    assert store.get_lease("p", clock.moment) is None
    held = advance(store, "r1", clock, {"items": t("2024-01-02")})
    assert held == Lease("p", "r1", "host-a pid 1", T0, T0 + 3 * TTL)
    assert store.get_watermark("p", "items") == t("2024-01-02")


def test_a_run_that_lost_its_lease_moves_no_watermark_and_names_the_holder(store):
    clock = Clock()
    take(store, "r1", clock)
    advance(store, "r1", clock, {"items": t("2024-01-02")})
    clock.moment = T0 + TTL  # r1 stalled past its TTL: r2 takes the lease over
    take(store, "r2", clock, host="host-b pid 2")
    clock.moment = T0 + TTL + timedelta(minutes=1)
    with pytest.raises(LeaseLostError) as lost:
        advance(store, "r1", clock, {"items": t("2024-01-03"), "users": t("2024-01-03")})
    assert str(lost.value) == (
        "the lease of pipeline p was taken by run r2 on host-b pid 2 since 2024-01-01T12:05:00Z while this run was "
        "writing: its watermarks are not moved; the rows it wrote are read again by the next run"
    )
    assert (store.get_watermark("p", "items"), store.get_watermark("p", "users")) == (t("2024-01-02"), None)
    assert store.get_lease("p", clock.moment) == Lease("p", "r2", "host-b pid 2", T0 + TTL, T0 + 2 * TTL)
