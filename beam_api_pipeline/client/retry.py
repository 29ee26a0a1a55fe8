"""The retry policy for one request: tenacity built from RetryConfig, honouring Retry-After."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import tenacity

from beam_api_pipeline.config import RetryConfig
from beam_api_pipeline.errors import RateLimitedError, RetryableApiError

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


class RetryPolicy:
    """Decides whether and how long to wait before another attempt at a request.

    The wait is exponential backoff (`base_delay * 2 ** (attempt - 1)`, capped at `max_delay`, with jitter),
    or the server's Retry-After when that is longer: `Retry-After: 0` cannot cause a retry storm.
    Attempts stop at `max_attempts`, or when the next wait would take the request past `max_time`.
    """

    def __init__(
        self,
        config: RetryConfig,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based), before Retry-After is considered."""
        delay = min(self.config.max_delay, self.config.base_delay * 2 ** (attempt - 1))
        if self.config.jitter:
            delay = delay / 2 + self._rng.uniform(0, delay / 2)
        return delay

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """The wait before the next attempt, given the error the last one raised."""
        delay = self.backoff(attempt)
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay

    def call(self, attempt_fn: Callable[[], T], on_retry: Callable[[BaseException, float], None] | None = None) -> T:
        """Run `attempt_fn` until it succeeds, raises a non-retryable error, or the policy gives up.

        On giving up the last error is raised as it was. `on_retry(error, wait)` is told of each retry.
        """
        started = self._clock()

        def wait(state: tenacity.RetryCallState) -> float:
            return self.wait_for(state.attempt_number, state.outcome.exception() if state.outcome else None)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.config.max_attempts:
                return True
            return self._clock() - started + (state.upcoming_sleep or 0.0) > self.config.max_time

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None:
                on_retry(state.outcome.exception(), state.upcoming_sleep)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RetryableApiError),
            wait=wait,
            stop=stop,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt_fn)
