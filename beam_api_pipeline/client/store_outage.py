"""An outage of the shared rate-limit store (Redis), as each process sees it: from a failure until
`RETRY_STORE_SECONDS` later the store is taken to be away (the process keeps to its own share), then the next call
asks it again. One outage is reported once, when it starts, and once when the store answers again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: How long a process keeps to its own share after the store failed, before it asks the store again.
RETRY_STORE_SECONDS = 5.0


class StoreOutage:
    """Whether the store is away now; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._away_until: float | None = None
        self._lock = threading.Lock()

    def away(self) -> bool:
        with self._lock:
            return self._away_until is not None and self._clock() < self._away_until

    def failed(self) -> bool:
        """Note a failure of the store; True when it starts an outage (the one to report)."""
        with self._lock:
            first = self._away_until is None
            self._away_until = self._clock() + RETRY_STORE_SECONDS
        return first

    def answered(self) -> bool:
        """Note an answer of the store; True when it ends an outage (the one to report)."""
        with self._lock:
            ended = self._away_until is not None
            self._away_until = None
        return ended
