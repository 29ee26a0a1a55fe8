"""What a run does (its windows, per endpoint) and what came of it: plain data, no Beam.

Between pipeline stages a WindowTask or a WindowResult travels in its element form, a tuple of strings and
numbers (`to_element` / `from_element`), so that every runner encodes it with Beam's own compiled coders and
never pickles an object (see docs/beam-time-flush-bug.md).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from beam_api_pipeline.client.validators import KeptValidators
from beam_api_pipeline.control.watermarks import WatermarkHandler, WindowOutcome, next_watermark
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.timeformat import floor_to
from beam_api_pipeline.core.windowing import Window, format_utc
from beam_api_pipeline.plan.parents import EndpointTree, ParentRef
from beam_api_pipeline.schemas.baseline import baseline_schemas


class WindowStatus(StrEnum):
    """How one part of a window's walk ended; each value is the string its element form carries."""

    DONE = "done"  # the part fetched every page of its restriction (as a split left it)
    PARTIAL = "partial"  # the part stopped early and handed the rest on (deferred, or split off mid-page)
    FAILED = "failed"  # a page could not be fetched or read
    TRUNCATED = "truncated"  # max_pages was reached before the last page

    @property
    def fails_window(self) -> bool:
        """Whether the window this part belongs to failed (and goes to the dead letter)."""
        return self in (WindowStatus.FAILED, WindowStatus.TRUNCATED)


_MICROSECOND = timedelta(microseconds=1)


#: A WindowTask between stages: (endpoint, window start, window end, overlap in microseconds, parent as JSON
#: text or None).
TaskElement = tuple[str, str, str, int, str | None]
#: A WindowResult between stages: (task, status, pages, records, retries, error, error type, seconds,
#: first page, end page, window pages, announced total, page size, rate limited, validators).
ResultElement = tuple[
    TaskElement,
    str,
    int,
    int,
    int,
    str | None,
    str | None,
    float,
    int,
    int,
    int | None,
    int | None,
    int | None,
    int,
    KeptValidators,
]


@dataclass(frozen=True)
class WindowTask:
    """One endpoint's window: the element the fetch DoFn works on. A child endpoint's task also names the parent
    record it was made for (`parents.ParentRef`)."""

    endpoint: str
    window: Window
    parent: ParentRef | None = None

    def to_element(self) -> TaskElement:
        window = self.window
        parent = None if self.parent is None else self.parent.text
        return (self.endpoint, format_utc(window.start), format_utc(window.end), window.overlap // _MICROSECOND, parent)

    @classmethod
    def from_element(cls, element: TaskElement) -> WindowTask:
        endpoint, start, end, overlap, parent = element
        window = Window(datetime.fromisoformat(start), datetime.fromisoformat(end), overlap * _MICROSECOND)
        return cls(endpoint, window, None if parent is None else ParentRef(parent))

    def label(self) -> str:
        """The window's label, and the parent of a child task: `2024-01-01T00:00:00Z/.. parent 12`."""
        window = self.window.label()
        return window if self.parent is None else f"{window} {self.parent.label()}"


def task_endpoint(element: TaskElement) -> str:
    """The endpoint of a TaskElement, without reading its window."""
    return element[0]


#: The per-window figures of a WindowResult an endpoint's stats carry, each with how the parts of one window
#: combine (they carry the window's value) and how the windows (and a streaming run's polls) combine: the total
#: announced adds up; the page size is the largest page the API served.
RESULT_FIGURES: dict[str, tuple[Callable[[Iterable[int]], int], Callable[[Iterable[int]], int]]] = {
    "announced_total": (max, sum),
    "page_size": (max, max),
}


@dataclass(frozen=True)
class WindowResult:
    """What one part of a window's walk did, and how it ended (`status`).

    The part fetched the pages `[first_page, end_page)` (0-based indices in the window); `window_pages` is the
    window's number of pages when the part knows it (a page range always does, a walk once it reached the last
    page), else None. Together the parts tell whether the whole window was fetched (`window_complete`).
    `announced_total` is the record count the window's first page announced (`total_path`; None without one),
    `page_size` the effective page size: the largest page the API served (smaller than asked when it caps
    its pages; None before a page); `rate_limited` the 429 answers among its `retries`. `validators` are the
    `(request key, ETag, Last-Modified)` of a walk its first answer completed, to be saved with the commit
    (`client.conditional`)."""

    task: WindowTask
    status: WindowStatus
    pages: int
    records: int
    retries: int = 0
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    first_page: int = 0
    end_page: int = 0
    window_pages: int | None = None
    announced_total: int | None = None
    page_size: int | None = None
    rate_limited: int = 0
    validators: KeptValidators = ()

    def to_element(self) -> ResultElement:
        return (
            self.task.to_element(),
            self.status.value,  # a plain str: Beam would pickle a str subclass
            self.pages,
            self.records,
            self.retries,
            self.error,
            self.error_type,
            self.seconds,
            self.first_page,
            self.end_page,
            self.window_pages,
            self.announced_total,
            self.page_size,
            self.rate_limited,
            self.validators,
        )

    @classmethod
    def from_element(cls, element: ResultElement) -> WindowResult:
        task, status, *counts = element
        return cls(WindowTask.from_element(task), WindowStatus(status), *counts)

    @property
    def ends_window(self) -> bool:
        """Whether this part ended its window's walk: it failed, was truncated or fetched the last page."""
        reached_last_page = self.window_pages is not None and self.end_page >= self.window_pages
        return reached_last_page or self.status.fails_window


@dataclass(frozen=True)
class PollSchedule:
    """When a streaming run polls: from `first_poll` every `interval` until `until` (None: until drained or
    cancelled); each poll reads up to its time minus `lag`. `start_time` (`--start_time`) is where the first
    poll of each endpoint starts reading, instead of its watermark."""

    first_poll: datetime
    interval: timedelta
    lag: timedelta
    until: datetime | None = None
    start_time: datetime | None = None


@dataclass(frozen=True)
class RunPlan:
    """The windows one run covers, decided when the pipeline is built. `tasks` are the windows of endpoints
    without a parent (and, in a replay, child tasks); a child endpoint's windows are its root's, and its tasks
    are made from the parent records of each window while the run goes. `endpoint_parents` maps each endpoint to
    its parent (None for a root; an endpoint missing from it is a root). `schemas_before` holds each endpoint's
    schema its rows are held to (`schema_baseline`; BigQuery JSON fields). A streaming run has `polls` and no
    `tasks`: each poll plans its own (`transforms.polls`)."""

    run_id: str
    pipeline_id: str
    started_at: datetime
    tasks: list[WindowTask]
    watermarks_before: dict[str, datetime | None] = field(default_factory=dict)
    replayed_records: list[tuple[WindowTask, Any]] = field(default_factory=list)
    is_replay: bool = False
    endpoint_parents: dict[str, str | None] = field(default_factory=dict)
    schemas_before: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    polls: PollSchedule | None = None
    is_backfill: bool = False  # `--backfill`: the run writes its range and leaves every watermark where it is
    job_holds_lease: bool = False  # a Dataflow job: its commit releases the pipeline's lease (see docs/deploy.md)

    def parent_of(self, endpoint: str) -> str | None:
        return self.endpoint_parents.get(endpoint)

    def tree(self) -> EndpointTree:
        """The endpoints of the plan, with the endpoints of its tasks as roots when no parents are known."""
        parents = {task.endpoint: None for task in self.tasks}
        return EndpointTree({**parents, **self.endpoint_parents})


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id such as `20240101T000000Z-1a2b3c4d`."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def oldest(watermarks: Iterable[datetime | None]) -> datetime | None:
    """The oldest of `watermarks`; None when any is None (an endpoint with no watermark yet)."""
    watermarks = list(watermarks)
    return None if None in watermarks else min(watermarks)


def make_plan(
    config,
    store,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    now: datetime | None = None,
    run_id: str | None = None,
    backfill: bool = False,
) -> RunPlan:
    """Plan the windows of every endpoint without a parent from the stored watermarks (or the explicit start and
    end). A root starts from the oldest watermark of its family: a child whose watermark lags (a child task
    failed) has those windows' parents read again, and their children with them. A `start_time` after a stored
    watermark is refused (`refuse_gap`) unless the run is a `backfill`."""
    now = now or datetime.now(UTC)
    handler = WatermarkHandler(
        config.api_config.watermark, store, config.pipeline_id, config.api_config.window_grid()[0]
    )
    tree = EndpointTree.of(config.api_config)
    before = {endpoint: handler.get_last_watermark(endpoint) for endpoint in config.api_config.endpoints}
    if backfill and start_time is None:
        raise ConfigError("--backfill: give the range to read with --start_time (and --end_time)")
    if not backfill:
        refuse_gap(before, start_time, handler.grid)
    tasks: list[WindowTask] = []
    for root in tree.roots:
        stored = oldest(before[endpoint] for endpoint in tree.family(root))
        tasks.extend(WindowTask(root, w) for w in handler.plan(stored, start_time, end_time, now))
    schemas = baseline_schemas(config, store)
    return RunPlan(
        run_id or new_run_id(now),
        config.pipeline_id,
        now,
        tasks,
        before,
        endpoint_parents=tree.parents,
        schemas_before=schemas,
        is_backfill=backfill,
    )


def refuse_gap(watermarks: dict[str, datetime | None], start_time: datetime | None, grid: timedelta) -> None:
    """A ConfigError, one line per endpoint, when `start_time` floored to the window `grid` (where the run reads
    from) lies after an endpoint's stored watermark: the run would move the watermark over
    `[watermark, start)` and no later run would read it."""
    if start_time is None:
        return
    floored = floor_to(start_time, grid)
    start = format_utc(floored)
    problems = [
        f"--start_time: {start} is after the watermark of {endpoint}, {format_utc(stored)}: "
        f"[{format_utc(stored)}, {start}) would never be read. Read the range without moving the watermark "
        f"with --backfill, or skip the gap on purpose with `watermark set --endpoint {endpoint} --to {start}`"
        for endpoint, stored in sorted(watermarks.items())
        if stored is not None and floored > stored
    ]
    if problems:
        raise ConfigError(problems)


def make_streaming_plan(
    config,
    store,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    now: datetime | None = None,
    run_id: str | None = None,
) -> RunPlan:
    """Plan a streaming run: it polls from `now` every `streaming.poll_interval` until `end_time` (None: until
    drained or cancelled); the first poll of each endpoint reads from `start_time`, else from its watermark."""
    now = now or datetime.now(UTC)
    if end_time is not None and end_time <= now:
        raise ConfigError(
            f"--end_time: a streaming run polls until then, so it must be in the future, got {format_utc(end_time)}"
        )
    plan = make_plan(config, store, now=now, run_id=run_id)
    refuse_gap(plan.watermarks_before, start_time, config.api_config.window_grid()[0])
    section = config.streaming
    polls = PollSchedule(now, section.poll_interval, section.lag, until=end_time, start_time=start_time)
    return replace(plan, tasks=[], polls=polls)


def window_tasks(config, start: datetime, end: datetime) -> list[WindowTask]:
    """The windows over `[start, end)` of every endpoint without a parent, cut as `watermark.window` says; no
    watermark is read."""
    handler = WatermarkHandler(
        config.api_config.watermark, None, config.pipeline_id, config.api_config.window_grid()[0]
    )
    return [
        WindowTask(endpoint, window)
        for endpoint in EndpointTree.of(config.api_config).roots
        for window in handler.plan(None, start, end, now=end)
    ]


def window_complete(parts: list[WindowResult]) -> bool:
    """Whether the parts of one window's walk fetched all of it: none failed or was truncated, they agree on the
    window's number of pages, and their pages cover `[0, window_pages)` without a gap. A part a runner lost
    (never ran, dropped after a split) leaves a gap."""
    if not parts or any(part.status.fails_window for part in parts):
        return False
    totals = {part.window_pages for part in parts if part.window_pages is not None}
    if len(totals) != 1:
        return False
    reached = 0
    for first, end in sorted((part.first_page, part.end_page) for part in parts):
        if first > reached:
            return False
        reached = max(reached, end)
    return reached >= totals.pop()


def window_outcomes(
    plan: RunPlan, results: Iterable[WindowResult], spawned: Iterable[WindowTask] = ()
) -> dict[str, list[WindowOutcome]]:
    """Per endpoint, whether each of its windows in the run was fetched completely (`window_complete`): a
    window with no result at all is incomplete. A child endpoint's window (its root's, made for each parent
    record in it: `spawned`) is complete when every child task of it is, and its parent's window is."""
    parts: dict[WindowTask, list[WindowResult]] = defaultdict(list)
    for result in results:
        parts[result.task].append(result)
    expected: dict[tuple[str, Window], set[WindowTask]] = defaultdict(set)
    for task in (*plan.tasks, *spawned):
        expected[task.endpoint, task.window].add(task)
    tree = plan.tree()
    in_run = {(task.endpoint, task.window) for task in plan.tasks}
    for endpoint, window in list(in_run):
        in_run.update((below, window) for below in tree.family(endpoint))
    complete: dict[tuple[str, Window], bool] = {}
    outcomes: dict[str, list[WindowOutcome]] = defaultdict(list)
    depths = tree.depths()
    for endpoint, window in sorted(in_run, key=lambda pair: (depths[pair[0]], pair[1].start, pair[0])):
        parent = (tree.parents.get(endpoint), window)
        done = all(window_complete(parts.get(task, [])) for task in expected[endpoint, window])
        complete[endpoint, window] = done and complete.get(parent, True)
        outcomes[endpoint].append(WindowOutcome(window, complete[endpoint, window]))
    return dict(outcomes)


def watermark_to_commit(plan: RunPlan, endpoint: str, outcomes: list[WindowOutcome]) -> datetime | None:
    """Where `endpoint`'s watermark moves to (None: it stays). A backfill never moves it. A replay, and a child
    endpoint with a stored watermark in any run, moves it only when its first window starts at or before the
    stored watermark: otherwise an earlier window is still missing. A replay never moves a watermark that was
    never stored."""
    if plan.is_backfill:
        return None
    watermark = next_watermark(outcomes)
    if watermark is None or not (plan.is_replay or plan.parent_of(endpoint)):
        return watermark
    stored = plan.watermarks_before.get(endpoint)
    if stored is None:
        return None if plan.is_replay else watermark
    first = min(outcome.window.start for outcome in outcomes)
    return watermark if first <= stored else None


def watermarks_after(plan: RunPlan, outcomes: dict[str, list[WindowOutcome]]) -> dict[str, datetime | None]:
    """Per endpoint, where the watermark moves to (None: it stays), from `window_outcomes`; a child's never
    passes its parent's."""
    after = {
        endpoint: watermark_to_commit(plan, endpoint, endpoint_outcomes)
        for endpoint, endpoint_outcomes in outcomes.items()
    }
    for level in plan.tree().levels()[1:]:
        for endpoint in level:
            parent = plan.parent_of(endpoint)
            ceiling = after.get(parent) or plan.watermarks_before.get(parent)
            if after.get(endpoint) is not None and (ceiling is None or after[endpoint] > ceiling):
                after[endpoint] = ceiling
    return after


def endpoint_stats(
    plan: RunPlan, results: Iterable[WindowResult], spawned: Iterable[WindowTask] = ()
) -> dict[str, dict[str, float]]:
    """Per endpoint: windows planned, done and failed, pages, records, retries (`rate_limited_429` of them
    answered 429), errors and fetch seconds."""
    results = list(results)
    stats: dict[str, dict[str, float]] = {}
    for endpoint, outcomes in window_outcomes(plan, results, spawned).items():
        done = sum(o.complete for o in outcomes)
        stats[endpoint] = {"windows": len(outcomes), "windows_done": done, "windows_failed": len(outcomes) - done}
        stats[endpoint].update(pages=0, records=0, retries=0, rate_limited_429=0, errors=0, seconds=0.0)
    for result in results:
        entry = stats[result.task.endpoint]
        entry["pages"] += result.pages
        entry["records"] += result.records
        entry["retries"] += result.retries
        entry["rate_limited_429"] += result.rate_limited
        entry["errors"] += result.status.fails_window
        entry["seconds"] = round(entry["seconds"] + result.seconds, 3)
    return stats
