"""A bounded thread pool for a DoFn's requests whose threads count their Beam metrics in the DoFn's step.

Beam finds the metrics container through a thread-local state tracker; a plain pool thread has none, so the
HTTP client's counters (requests, retries, throttled time) would be lost. Each task runs with the tracker of
the thread that submitted it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from apache_beam.runners.worker import statesampler

T = TypeVar("T")


class RequestPool:
    """`submit(fn, *args)` runs `fn` on one of `width` threads, with the submitter's metrics context."""

    def __init__(self, width: int, name: str):
        self.width = width
        self._executor = ThreadPoolExecutor(max_workers=width, thread_name_prefix=name)

    def submit(self, fn: Callable[..., T], *args) -> Future[T]:
        tracker = statesampler.get_current_tracker()

        def run() -> T:
            statesampler.set_current_tracker(tracker)
            try:
                return fn(*args)
            finally:
                statesampler.set_current_tracker(None)

        return self._executor.submit(run)

    def close(self) -> None:
        """Stop the threads; queued tasks are dropped, running ones finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)
