"""`rate_limit_mode: shared`: one token bucket in Redis that every process of the job draws from.

Each request reserves a token with one atomic script, on Redis's own clock: the bucket refills at `rate_limit`
tokens a second, holds at most `burst`, and may go below zero, in which case the caller waits until its token
is due. So the whole job sends at most `rate_limit` requests a second (plus the burst), whatever the number of
workers. When Redis fails (no answer within `STORE_TIMEOUT_SECONDS`, a refused password), the process falls
back to its share of the budget (`SharePacer`), logs it once per outage, and tries Redis again after
`RETRY_STORE_SECONDS`: a window never fails for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from beam_api_pipeline.client.pacing import SharePacer
from beam_api_pipeline.client.rate_headers import RateLimitHint
from beam_api_pipeline.client.store_outage import RETRY_STORE_SECONDS, StoreOutage
from beam_api_pipeline.core import metrics

logger = logging.getLogger(__name__)

#: The bucket holds this many seconds of `rate_limit` at most.
BURST_SECONDS = 0.1
#: How long one Redis call may take before it counts as an outage.
STORE_TIMEOUT_SECONDS = 1.0
#: The bucket's key expires after this long unused, so a finished job leaves nothing behind.
KEY_TTL_MS = 60_000

#: KEYS[1] the bucket; ARGV rate, burst. Returns the seconds the caller waits for its token, as text (Redis
#: turns Lua numbers into integers).
_RESERVE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(saved[1]) or burst, tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if tokens >= 0 then return '0' end
return tostring(-tokens / rate)
"""


def bucket_key(pipeline_id: str) -> str:
    """The Redis key of a pipeline's bucket: every job of the pipeline shares its `rate_limit`."""
    return f"beam_api_pipeline:rate_limit:{pipeline_id}"


def _tls_trust(ca: str | None) -> dict[str, object]:
    """The TLS settings of a `rediss://` connection whose server certificate must chain to the PEM `ca` alone
    (none: the system's trusted CAs, and the certificate must name the host). The CA of a Memorystore instance is
    its own (one per instance), so the chain identifies the server and its host name is not checked: the
    instance is reached by IP address."""
    if ca is None:
        return {}
    return {"ssl_ca_data": ca, "ssl_check_hostname": False}


def store_client(url: str, password: str | None, ca: str | None = None) -> redis.Redis:
    """A client of the Redis at `url` whose calls give up after `STORE_TIMEOUT_SECONDS` (`rediss://`: TLS,
    checked against `ca` when given, see `_tls_trust`)."""
    return redis.Redis.from_url(
        url,
        password=password,
        socket_timeout=STORE_TIMEOUT_SECONDS,
        socket_connect_timeout=STORE_TIMEOUT_SECONDS,
        **_tls_trust(ca),
    )


class RedisPacer:
    """The job-wide bucket in Redis at `url`, with `fallback` (this process's share) while Redis is away."""

    def __init__(
        self,
        url: str,
        password: str | None,
        key: str,
        rate: float,
        fallback: SharePacer,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        ca: str | None = None,
    ):
        client = store_client(url, password, ca)
        self._reserve = client.register_script(_RESERVE)
        self._client = client
        self._key = key
        self._args = (rate, max(1.0, rate * BURST_SECONDS), KEY_TTL_MS)
        self._fallback = fallback
        self._sleep = sleep
        self._outage = StoreOutage(clock)
        self.rate = rate

    def acquire(self) -> float:
        if self._outage.away():
            return self._fallback.acquire()
        try:
            wait = float(self._reserve(keys=[self._key], args=list(self._args)))
        except redis.RedisError as error:
            self._went_away(error)
            return self._fallback.acquire()
        self._came_back()
        if wait > 0:
            self._sleep(wait)
        return wait

    def throttled(self) -> None:
        """The bucket is the job's cap; the API's Retry-After pauses this process (see `RequestLimits`)."""
        self._fallback.throttled()

    def answered(self, hint: RateLimitHint | None) -> None:
        self._fallback.answered(hint)

    def close(self) -> None:
        self._client.close()

    def _went_away(self, error: redis.RedisError) -> None:
        """Keep to the share for a while; log the outage (by the error's type: its text may hold the URL)."""
        if self._outage.failed():
            metrics.RATE_LIMIT_STORE_OUTAGES.inc()
            logger.warning(
                "rate_limit_store failed (%s); this process keeps to its share, %.3g requests/s, "
                "and asks again every %.0f s",
                type(error).__name__,
                self._fallback.share,
                RETRY_STORE_SECONDS,
            )

    def _came_back(self) -> None:
        if self._outage.answered():
            logger.warning("rate_limit_store answers again; the job-wide bucket paces this process")
