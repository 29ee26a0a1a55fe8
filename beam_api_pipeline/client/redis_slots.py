"""`rate_limit_mode: shared`: the job-wide cap on requests in flight (`max_concurrent_requests`), in Redis.

Each process holds at most its share of the cap (`share_of_budget`: at least one request), so without Redis a
job of many processes has up to `processes x share` requests in flight, more than the cap. With the store, a
request also takes a slot in a sorted set in Redis (one atomic script, on Redis's clock): at most `cap` members,
each scored with the end of its lease. A slot is given back when its request ends; a process that dies holding
slots frees them when their leases end, so a dead worker cannot starve the job. While Redis fails, a process
keeps to its own share (logged once per outage, asked again after `RETRY_STORE_SECONDS`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import redis

from beam_api_pipeline.client.store_outage import RETRY_STORE_SECONDS, StoreOutage

logger = logging.getLogger(__name__)

#: How often a request that found every slot taken asks again.
POLL_SECONDS = 0.02

#: KEYS[1] the set of slots; ARGV cap, lease (ms), slot id. Drops slots whose lease ended, then takes one if
#: fewer than cap are held: 1 when taken, else 0. The key expires one lease after its last slot was taken.
_TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


def slots_key(pipeline_id: str) -> str:
    """The Redis key of a pipeline's slots: every job of the pipeline shares `max_concurrent_requests`."""
    return f"beam_api_pipeline:in_flight:{pipeline_id}"


def lease_seconds(timeout: float) -> float:
    """How long a slot is held at most: two request timeouts (connect and read), and at least 30 s."""
    return max(30.0, 2 * timeout)


class RedisSlots:
    """At most `cap` requests in flight for the whole job, through the sorted set `key` of `client`'s Redis."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        cap: int,
        lease: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._take = client.register_script(_TAKE)
        self._client = client
        self._key = key
        self._args = (cap, int(lease * 1000))
        self._sleep = sleep
        self._outage = StoreOutage(clock)
        self.cap = cap

    def acquire(self) -> str | None:
        """Wait for a slot and return its id; None while Redis fails (the process's own share holds then)."""
        slot = uuid.uuid4().hex
        while not self._outage.away():
            try:
                if int(self._take(keys=[self._key], args=[*self._args, slot])):
                    self._came_back()
                    return slot
            except redis.RedisError as error:
                self._went_away(error)
                return None
            self._sleep(POLL_SECONDS)
        return None

    def release(self, slot: str | None) -> None:
        """Give back the slot `acquire` returned (nothing for None); a failure leaves it to its lease."""
        if slot is None:
            return
        try:
            self._client.zrem(self._key, slot)
        except redis.RedisError as error:
            self._went_away(error)

    def _went_away(self, error: redis.RedisError) -> None:
        """Keep to the process's share for a while; log the outage (by the error's type: its text may hold the
        URL)."""
        if self._outage.failed():
            logger.warning(
                "rate_limit_store failed (%s); this process holds requests in flight to its share of "
                "max_concurrent_requests %d, and asks again every %.0f s",
                type(error).__name__,
                self.cap,
                RETRY_STORE_SECONDS,
            )

    def _came_back(self) -> None:
        if self._outage.answered():
            logger.warning("rate_limit_store answers again; the job-wide slots hold requests in flight")
