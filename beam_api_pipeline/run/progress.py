"""Progress of a local run: windows finished out of the total, and records so far.

On a terminal it is one line that updates in place; otherwise an INFO log line every `interval` seconds (shown at
the default log level: `logging_setup.configure_logging`). Only the
process that started the run shows it (DirectRunner in memory or with threads); elsewhere reporting is a no-op.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

logger = logging.getLogger(__name__)


class Progress:
    """Counts finished windows and records and shows them."""

    def __init__(
        self,
        total_windows: int,
        stream: TextIO | None = None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total = total_windows
        self.windows = self.failed = self.records = 0
        self._stream = stream or sys.stderr
        self._on_terminal = self._stream.isatty()
        self._interval = interval
        self._clock = clock
        self._last_log = clock()
        self._lock = threading.Lock()

    def line(self) -> str:
        """The progress as text."""
        failed = f", {self.failed} failed" if self.failed else ""
        return f"windows {self.windows}/{self.total}{failed}, {self.records} records"

    def add(self, records: int, window_finished: bool, failed: bool) -> None:
        """Count one part of a window's walk."""
        with self._lock:
            self.records += records
            self.windows += window_finished
            self.failed += failed
            self._show()

    def _show(self) -> None:
        if self._on_terminal:
            self._stream.write(f"\r{self.line()}")
            self._stream.flush()
        elif self._clock() - self._last_log >= self._interval or self.windows == self.total:
            self._last_log = self._clock()
            logger.info("progress: %s", self.line())

    def close(self) -> None:
        """End the updating line."""
        if self._on_terminal:
            self._stream.write("\n")
            self._stream.flush()


_current: Progress | None = None


def start(total_windows: int, stream: TextIO | None = None, interval: float = 10.0) -> Progress:
    """Show progress for the run this process is about to execute."""
    global _current
    _current = Progress(total_windows, stream, interval)
    return _current


def stop() -> None:
    """Stop showing progress."""
    global _current
    if _current is not None:
        _current.close()
    _current = None


def report(records: int, window_finished: bool, failed: bool) -> None:
    """Count one part of a window's walk, if this process shows progress."""
    if _current is not None:
        _current.add(records, window_finished, failed)
