"""What a run does (its windows, per endpoint) and what came of it: plain data, no Beam.

Between pipeline stages a WindowTask or a WindowResult travels in its element form, a tuple of strings and
numbers (`to_element` / `from_element`), so that every runner encodes it with Beam's own compiled coders and
never pickles an object (see docs/beam-time-flush-bug.md).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from beam_api_pipeline.watermark.handler import WatermarkHandler, WindowOutcome, next_watermark
from beam_api_pipeline.windowing import Window, format_utc

DONE = "done"  # the walk reached the last page
PARTIAL = "partial"  # the runner split the walk; another part goes on from where this one stopped
FAILED = "failed"  # a page could not be fetched or read
TRUNCATED = "truncated"  # max_pages was reached before the last page

_MICROSECOND = timedelta(microseconds=1)

#: A WindowTask between stages: (endpoint, window start, window end, overlap in microseconds).
TaskElement = tuple[str, str, str, int]
#: A WindowResult between stages: (task, status, pages, records, retries, error, error type, seconds).
ResultElement = tuple[TaskElement, str, int, int, int, str | None, str | None, float]


@dataclass(frozen=True)
class WindowTask:
    """One endpoint's window: the element the fetch DoFn works on."""

    endpoint: str
    window: Window

    def to_element(self) -> TaskElement:
        window = self.window
        return (self.endpoint, format_utc(window.start), format_utc(window.end), window.overlap // _MICROSECOND)

    @classmethod
    def from_element(cls, element: TaskElement) -> WindowTask:
        endpoint, start, end, overlap = element
        window = Window(datetime.fromisoformat(start), datetime.fromisoformat(end), overlap * _MICROSECOND)
        return cls(endpoint, window)


@dataclass(frozen=True)
class WindowResult:
    """What one part of a window's walk did; `status` is DONE, PARTIAL, FAILED or TRUNCATED."""

    task: WindowTask
    status: str
    pages: int
    records: int
    retries: int = 0
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0

    def to_element(self) -> ResultElement:
        return (
            self.task.to_element(),
            self.status,
            self.pages,
            self.records,
            self.retries,
            self.error,
            self.error_type,
            self.seconds,
        )

    @classmethod
    def from_element(cls, element: ResultElement) -> WindowResult:
        task, *counts = element
        return cls(WindowTask.from_element(task), *counts)


@dataclass(frozen=True)
class RunPlan:
    """The windows one run covers, decided when the pipeline is built."""

    run_id: str
    pipeline_id: str
    started_at: datetime
    tasks: list[WindowTask]
    watermarks_before: dict[str, datetime | None] = field(default_factory=dict)
    replayed_records: list[tuple[WindowTask, Any]] = field(default_factory=list)
    is_replay: bool = False


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id such as `20240101T000000Z-1a2b3c4d`."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def make_plan(
    config,
    store,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    now: datetime | None = None,
    run_id: str | None = None,
) -> RunPlan:
    """Plan every endpoint's windows from the stored watermarks (or the explicit start and end)."""
    now = now or datetime.now(UTC)
    handler = WatermarkHandler(config.api_config.watermark, store, config.pipeline_id)
    tasks: list[WindowTask] = []
    before: dict[str, datetime | None] = {}
    for endpoint in config.api_config.endpoints:
        before[endpoint] = handler.get_last_watermark(endpoint)
        tasks.extend(WindowTask(endpoint, w) for w in handler.plan(endpoint, start_time, end_time, now))
    return RunPlan(run_id or new_run_id(now), config.pipeline_id, now, tasks, before)


def window_outcomes(plan: RunPlan, results: Iterable[WindowResult]) -> dict[str, list[WindowOutcome]]:
    """Per endpoint, whether each planned window was fetched completely: some part of its walk reached the
    last page and no part failed or was truncated. A window with no result at all is incomplete."""
    statuses: dict[WindowTask, set[str]] = defaultdict(set)
    for result in results:
        statuses[result.task].add(result.status)
    outcomes: dict[str, list[WindowOutcome]] = defaultdict(list)
    for task in plan.tasks:
        seen = statuses.get(task, set())
        complete = DONE in seen and not seen & {FAILED, TRUNCATED}
        outcomes[task.endpoint].append(WindowOutcome(task.window, complete))
    return dict(outcomes)


def watermark_to_commit(plan: RunPlan, endpoint: str, outcomes: list[WindowOutcome]) -> datetime | None:
    """Where `endpoint`'s watermark moves to (None: it stays). A replay moves it only when its first window
    starts at or before the stored watermark: otherwise an earlier window is still missing."""
    watermark = next_watermark(outcomes)
    if watermark is None or not plan.is_replay:
        return watermark
    stored = plan.watermarks_before.get(endpoint)
    first = min(outcome.window.start for outcome in outcomes)
    return watermark if stored is not None and first <= stored else None


def watermarks_after(plan: RunPlan, outcomes: dict[str, list[WindowOutcome]]) -> dict[str, datetime | None]:
    """Per endpoint, where the watermark moves to (None: it stays), from `window_outcomes`."""
    return {
        endpoint: watermark_to_commit(plan, endpoint, endpoint_outcomes)
        for endpoint, endpoint_outcomes in outcomes.items()
    }


def endpoint_stats(plan: RunPlan, results: Iterable[WindowResult]) -> dict[str, dict[str, float]]:
    """Per endpoint: windows planned, done and failed, pages, records, retries, errors and fetch seconds."""
    results = list(results)
    stats: dict[str, dict[str, float]] = {}
    for endpoint, outcomes in window_outcomes(plan, results).items():
        done = sum(o.complete for o in outcomes)
        stats[endpoint] = {"windows": len(outcomes), "windows_done": done, "windows_failed": len(outcomes) - done}
        stats[endpoint].update(pages=0, records=0, retries=0, errors=0, seconds=0.0)
    for result in results:
        entry = stats[result.task.endpoint]
        entry["pages"] += result.pages
        entry["records"] += result.records
        entry["retries"] += result.retries
        entry["errors"] += result.status in (FAILED, TRUNCATED)
        entry["seconds"] = round(entry["seconds"] + result.seconds, 3)
    return stats
