"""The job-wide cap on requests in flight of `rate_limit_mode: shared` (`client.redis_slots`), against a real
Redis: processes whose shares add up to more than the cap hold no more than the cap at once; a slot its dead
holder never gave back is free when its lease ends; while Redis is away each process keeps to its share."""

from __future__ import annotations

import logging
import threading
import time

import redis

from beam_api_pipeline.client.limits import RequestLimits, share_of_budget
from beam_api_pipeline.client.redis_bucket import store_client
from beam_api_pipeline.client.redis_slots import RedisSlots, lease_seconds, slots_key

CAP = 2
PROCESSES = 4  # each holds ceil(2 / 4) = 1 request in flight: 4 in all without the job-wide slots


def in_flight_at_most(limits: list[RequestLimits], threads_each: int, hold: float) -> int:
    """The most requests in flight at once when each of `limits` (a process) runs `threads_each` threads that
    each make 3 requests of `hold` seconds."""
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def work(process: RequestLimits) -> None:
        for _ in range(3):
            with process.request_slot():
                with lock:
                    state["now"] += 1
                    state["most"] = max(state["most"], state["now"])
                time.sleep(hold)
                with lock:
                    state["now"] -= 1

    threads = [threading.Thread(target=work, args=(p,)) for p in limits for _ in range(threads_each)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return state["most"]


def processes(redis_url: str | None, pipeline_id: str) -> list[RequestLimits]:
    share = share_of_budget(None, CAP, PROCESSES).max_concurrent
    made = []
    for _ in range(PROCESSES):
        slots = None
        if redis_url:
            slots = RedisSlots(store_client(redis_url, None), slots_key(pipeline_id), CAP, lease_seconds(5))
        made.append(RequestLimits(None, share, job_slots=slots))
    return made


def test_without_the_store_the_shares_add_up_to_more_than_the_cap():
    assert share_of_budget(None, CAP, PROCESSES).max_concurrent == 1
    assert in_flight_at_most(processes(None, "no_store"), threads_each=2, hold=0.05) == PROCESSES


def test_the_job_wide_slots_hold_the_cap_across_processes(redis_server):
    limits = processes(redis_server.url, "capped")
    assert in_flight_at_most(limits, threads_each=2, hold=0.05) == CAP
    assert redis.Redis.from_url(redis_server.url).exists(slots_key("capped")) == 0  # every slot given back


def test_a_slot_its_dead_holder_kept_is_free_when_its_lease_ends(redis_server):
    client = store_client(redis_server.url, None)
    dead = RedisSlots(client, slots_key("lease"), 1, lease=0.3)
    alive = RedisSlots(client, slots_key("lease"), 1, lease=0.3)
    assert dead.acquire() is not None  # and never released
    started = time.monotonic()
    slot = alive.acquire()
    waited = time.monotonic() - started
    assert slot is not None
    assert 0.2 < waited < 2.0
    alive.release(slot)
    assert client.zcard(slots_key("lease")) == 0


def test_while_redis_is_away_a_process_keeps_to_its_share_and_says_so_once(redis_server, caplog):
    slots = RedisSlots(store_client(redis_server.url, None), slots_key("away"), CAP, lease_seconds(5))
    limits = RequestLimits(None, 1, job_slots=slots)
    redis_server.stop()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with limits.request_slot():
                pass
    assert caplog.messages == [
        "rate_limit_store failed (ConnectionError); this process holds requests in flight to its share of "
        "max_concurrent_requests 2, and asks again every 5 s"
    ]
