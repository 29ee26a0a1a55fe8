"""The cap on windows being fetched at once (``parallel_config.max_concurrent_windows``).

The job's cap is divided between the processes that run the job as the request budget is (`share_of_budget`):
each process takes ``ceil(max_concurrent_windows / processes)``, held in one `WindowSlots` that all its threads
share (`shared_window_slots`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from beam_api_pipeline.client.limits import share_of_budget
from beam_api_pipeline.config import PipelineConfig


class WindowSlots:
    """At most `slots` window walks of a process at once; `hold()` waits for a free slot."""

    def __init__(self, slots: int):
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold a slot for the duration of the block, waiting until one is free."""
        with self._semaphore:
            yield


_shared: dict[tuple[str, int], WindowSlots] = {}
_shared_lock = threading.Lock()


def shared_window_slots(key: str, slots: int) -> WindowSlots:
    """The process-wide WindowSlots for `key` (one per pipeline) and this number of slots, created on first use."""
    with _shared_lock:
        entry = (key, slots)
        if entry not in _shared:
            _shared[entry] = WindowSlots(slots)
        return _shared[entry]


def window_slots(config: PipelineConfig, processes: int) -> WindowSlots | None:
    """This process's WindowSlots when `parallel_config` is time_window (its share of `max_concurrent_windows`
    among `processes` processes), else None: no cap."""
    parallel = config.api_config.parallel_config
    if parallel is None or parallel.type != "time_window":
        return None
    share = share_of_budget(None, parallel.max_concurrent_windows, processes).max_concurrent
    return shared_window_slots(config.pipeline_id, share)
