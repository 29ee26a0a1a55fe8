"""The retry policy for one request: tenacity built from RetryConfig, honouring Retry-After."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import tenacity
from tenacity.wait import wait_base

from beam_api_pipeline.config import RetryConfig
from beam_api_pipeline.core.errors import RateLimitedError, RetryableApiError

T = TypeVar("T")


def parse_retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def _retry_after(state: tenacity.RetryCallState) -> float:
    """The Retry-After the server gave with the failed attempt's answer; 0 when it gave none."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        return error.retry_after
    return 0.0


class _WaitLongest(wait_base):
    """The longest of `waits` (where tenacity's `+` adds waits up)."""

    def __init__(self, *waits: Callable[[tenacity.RetryCallState], float]):
        self._waits = waits

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return max(wait(retry_state) for wait in self._waits)


def _backoff(config: RetryConfig) -> wait_base:
    """`base_delay * 2 ** (attempt - 1)`, at most `max_delay`; with `jitter`, a random point of its upper half."""
    if not config.jitter:
        return tenacity.wait_exponential(multiplier=config.base_delay, max=config.max_delay)
    half = {"multiplier": config.base_delay / 2, "max": config.max_delay / 2}
    return tenacity.wait_exponential(**half) + tenacity.wait_random_exponential(**half)


class RetryPolicy:
    """Decides whether and how long to wait before another attempt at a request, with tenacity's policies.

    The wait is exponential backoff (`_backoff`), or the server's Retry-After when that is longer:
    `Retry-After: 0` cannot cause a retry storm. Attempts stop at `max_attempts`, or when the next wait would
    take the request to `max_time` (timed by `clock` from the start of the first attempt).
    """

    def __init__(
        self,
        config: RetryConfig,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self._wait = _WaitLongest(_backoff(config), _retry_after)
        self._stop = tenacity.stop_after_attempt(config.max_attempts) | tenacity.stop_before_delay(config.max_time)
        self._sleep = sleep
        self._clock = clock

    def call(self, attempt_fn: Callable[[], T], on_retry: Callable[[BaseException, float], None] | None = None) -> T:
        """Run `attempt_fn` until it succeeds, raises a non-retryable error, or the policy gives up.

        On giving up the last error is raised as it was. `on_retry(error, wait)` is told of each retry.
        """

        # tenacity stamps the first attempt's start and each failure with time.monotonic, and `stop_before_delay`
        # reads the stamps: `started` and `failed` take them again with this policy's clock (tests replace it).
        def started(state: tenacity.RetryCallState) -> None:
            if state.attempt_number == 1:
                state.start_time = self._clock()

        def failed(state: tenacity.RetryCallState) -> None:
            state.outcome_timestamp = self._clock()

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None:
                on_retry(state.outcome.exception(), state.upcoming_sleep)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableApiError),
            wait=self._wait,
            stop=self._stop,
            sleep=self._sleep,
            before=started,
            after=failed,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt_fn)
