"""WatermarkHandler: which windows a run covers, and how far a run's results move the watermark."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from beam_api_pipeline.core.timeformat import MICROSECOND, floor_to
from beam_api_pipeline.core.windowing import EPOCH, Window


@dataclass(frozen=True)
class WindowOutcome:
    """Whether a window was fetched completely (and so may be passed by the watermark)."""

    window: Window
    complete: bool


def next_watermark(outcomes: Iterable[WindowOutcome]) -> datetime | None:
    """The end of the last window of the longest run of complete windows, from the first; None if the
    first window is incomplete (the watermark then stays where it was)."""
    watermark = None
    for outcome in sorted(outcomes, key=lambda o: o.window.start):
        if not outcome.complete:
            break
        watermark = outcome.window.end
    return watermark


class WatermarkHandler:
    """Plans a run's windows from the stored watermark and the `watermark` config section, on `grid`: the step
    the API's time format can write (`ApiConfig.window_grid`)."""

    def __init__(self, config, store, pipeline_id: str, grid: timedelta = MICROSECOND):
        self.config = config
        self.store = store
        self.pipeline_id = pipeline_id
        self.grid = grid

    def get_last_watermark(self, endpoint: str) -> datetime | None:
        """The stored watermark of `endpoint`."""
        return self.store.get_watermark(self.pipeline_id, endpoint)

    def run_bounds(
        self,
        stored: datetime | None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        now: datetime | None = None,
    ) -> tuple[datetime, datetime]:
        """[start, end) of a run: explicit times win; else the `stored` watermark - lookback (none stored: the
        initial watermark) up to now. The end never lies in the future. Both are floored to the grid, so that the
        bounds sent are the bounds kept: the part of a run's last step not yet on it is left to the next run."""
        now = now or datetime.now(UTC)
        end = min(end_time, now) if end_time else now
        if start_time is not None:
            return self.on_grid(start_time, end)
        if not self.config.enabled:
            return self.on_grid(EPOCH, end)
        return self.on_grid(stored - self.config.lookback_window if stored else self.config.initial_watermark, end)

    def on_grid(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """`start` and `end` floored to the grid, so that the bounds sent are the bounds kept (the part of the
        last step not yet on it is left to the next run or poll)."""
        return floor_to(start, self.grid), floor_to(end, self.grid)

    def plan(self, stored: datetime | None, start_time=None, end_time=None, now=None) -> list[Window]:
        """The windows of a run from the `stored` watermark (one window over the whole range when watermarks are
        off)."""
        start, end = self.run_bounds(stored, start_time, end_time, now)
        if not self.config.enabled:
            return [Window(start, end)] if end > start else []
        return self.config.window.plan(start, end)
