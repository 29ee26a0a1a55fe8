"""CheckQuality: one endpoint's data quality checks (`quality`), between its transform and its outputs.

    (task, rows) ─▶ CheckRecords ─┬▶ [per unique check: ValueKeys ─▶ CombineGlobally: the duplicated key hashes]
                                  │                                             │ side input
                                  ├▶ [unique, warn only: CandidateKeys ◀────────┤ ─▶ GroupByValue ─▶ CountDuplicates]─┐
                                  └▶ [other unique: Candidates ◀────────────────┘ ─▶ GroupByValue ─▶ RankDuplicates] │
                                         │ each batch (less its candidates) and each ranked candidate                │
                                         ├▶ CountFailures ─▶ CombinePerKey by window ◀───────────────────────────────┘
          planned windows (row_count), windows whose fetch failed ──▶ CoGroupByKey by task ─▶ JudgeWindow
                                         │                                   failed WindowResults ◀┤
                                         └▶ ReleaseRows ◀── side input (with fail_window): the windows held back
                                               │ rows to write, dropped rows (dead letter)
    (task, rows) ─▶ Newest ─▶ CombineGlobally(max) ─▶ JudgeFreshness ─▶ failed WindowResults

A batch carries what its checks found (`CheckedBatch`), so nothing is kept in module or DoFn state. Windows are
judged from small aggregates: per window, the count of rows and of each check's failures, and for a
`fail_window` check the first failure in `quality_rules.kept_order` (the one its error names). No window's rows
are ever held together. What the checks cost follows what they judge:

- Record checks with `warn` or `drop_row`: each batch on its own, no grouping, the rows go straight on.
- `unique`: every row's value key (`quality_rules.value_key`) goes, as a 64-bit hash, to one combine, which
  finds the hashes seen more than once (its memory: 8 bytes a row of the run); only rows with such a hash are
  grouped by value. A check that only warns, on an endpoint with no `drop_row` check, is counted from the keys
  and the rows' tasks alone; any other is ranked on the rows themselves, which then wait for that combine.
- `fail_window` (but `freshness`): the batches wait for the windows' verdicts, a side input of the windows held
  back. A failed window becomes a failed WindowResult, which reaches the dead letter and the watermark commit
  (unless the window's fetch already failed: it is failed once); none of its rows is written or dropped.

Batches that wait are packed (`packing.pack_compressed`: about 25 bytes a row of the benchmark's), as a local
runner holds them in memory until what they wait for is known.
"""

from __future__ import annotations

import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy
from apache_beam import pvalue
from apache_beam.transforms.window import BoundedWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.api import METADATA_COLUMNS
from beam_api_pipeline.config.quality import QualityCheckConfig
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.beam_windows import BundleWindows, combine_all, flatten_all
from beam_api_pipeline.core.element_checks import checked
from beam_api_pipeline.core.packing import pack, pack_compressed, unpack, unpack_any
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.plan.run_plan import (
    ResultElement,
    RunPlan,
    TaskElement,
    WindowResult,
    WindowStatus,
    WindowTask,
    task_endpoint,
)
from beam_api_pipeline.records.dead_letters import quality_dead_letter
from beam_api_pipeline.records.quality_rules import (
    QUALITY_ERROR_TYPE,
    counter_name,
    duplicate_reason,
    freshness_failure,
    is_record_check,
    judges_freshness,
    kept_order,
    key_hash,
    record_checker,
    row_count_failure,
    value_key,
    window_check_failure,
    window_failure,
)

ROWS = "rows"
FAILED_WINDOWS = "failed_windows"
DROPPED = "dropped"
ROWS_WRITTEN = "rows_written"
_MICROS = 1_000_000
#: What JudgeWindow gets of a window, by CoGroupByKey: its counts (`_WindowCountsFn`), a marker if it was planned
#: (row_count judges windows with no row) and one for each part of its fetch that failed.
_COUNTS, _PLANNED, _FETCH_FAILED = "counts", "planned", "fetch_failed"
_CANDIDATES, _REST, _HELD = "candidates", "rest", "held"
#: A batch of rows and what its checks found, between CheckQuality's steps: `(task, rows, size, failures,
#: removed, keys)`: the rows (a list, or `pack_compressed`), how many, `[position, check index, reason]` of
#: each failure in the order found, the positions taken out to be ranked by a `unique` check (they go on as
#: batches of their own), and per `unique` check the `value_key` of each row's value (None: null).
CheckedBatch = tuple[TaskElement, list | bytes, int, list, list, list]
#: A window's counts: `[rows, {check index: [failures, first]}]`, `first` being `(order, reason)` of the first
#: failure by `kept_order` (within the window: its primary key and content) for a `fail_window` check, else None.
WindowCounts = list


def failed_result(task_element: TaskElement, error: str, error_type: str = QUALITY_ERROR_TYPE) -> ResultElement:
    """The WindowResult element failing the window `task_element` for a check of its rows (a quality check, or
    a schema contract): 0 pages and 0 records, since its fetch is counted by the fetch's own result (the run
    report's pages and records)."""
    task = WindowTask.from_element(task_element)
    return WindowResult(task, WindowStatus.FAILED, 0, 0, error=error, error_type=error_type).to_element()


def fetch_failures(fetch_results: pvalue.PCollection, endpoint: str | None = None) -> pvalue.PCollection:
    """`(task, None)` for each window (or child task) of `endpoint` (None: of any endpoint) whose fetch failed:
    what a CoGroupByKey by window finds beside the window's rows, so that a failed window is failed once."""
    return (
        fetch_results
        | "FetchFailed" >> beam.Filter(_fetch_failed, endpoint)
        | "FailedTask" >> beam.Map(lambda result: (result[0], None))
    )


def _fetch_failed(result: ResultElement, endpoint: str | None) -> bool:
    return (endpoint is None or task_endpoint(result[0]) == endpoint) and WindowStatus(result[1]).fails_window


def _window_start(task_element: TaskElement) -> datetime:
    return datetime.fromisoformat(task_element[1])


def _rows(rows: list[Any] | bytes) -> list[Any]:
    """The rows of a CheckedBatch, unpacked when packed."""
    return rows if isinstance(rows, list) else unpack_any(rows)


def _by_position(failures: list, removed: Iterable[int] = ()) -> dict[int, list]:
    """`failures` (`[position, index, reason]`) by position, in the order found, less the `removed` positions."""
    taken = set(removed)
    found: dict[int, list] = defaultdict(list)
    for position, index, reason in failures:
        if position not in taken:
            found[position].append([index, reason])
    return found


class _CheckRecordsFn(beam.DoFn):
    """Each `(task, rows)` batch as a CheckedBatch: its record-check failures and, for each `unique` check's
    field, the value keys (its rows `pack_compressed` when `packs`: they wait for a side input)."""

    def __init__(self, checks: list[tuple[int, QualityCheckConfig]], unique_fields: list[str], packs: bool):
        self._checks = checks
        self._unique_fields = unique_fields
        self._packs = packs

    def setup(self) -> None:
        self._checkers = [
            (index, record_checker(check, re.compile(check.pattern) if check.pattern else None))
            for index, check in self._checks
        ]

    def process(self, element: tuple[TaskElement, list[Any]]) -> Iterator[CheckedBatch]:
        task_element, rows = element
        failures = []
        checkers = self._checkers
        for position, row in enumerate(rows):
            for index, checker in checkers:
                reason = checker(row)
                if reason is not None:
                    failures.append([position, index, reason])
        keys = [[value_key(get_path(row, field)) for row in rows] for field in self._unique_fields]
        yield task_element, pack_compressed(rows) if self._packs else rows, len(rows), failures, [], keys


class _DuplicateHashesFn(beam.CombineFn):
    """The value keys of a `unique` check (lists, None for a null) in; out the sorted `key_hash`es seen more than
    once. Its accumulator is 8 bytes a key."""

    def create_accumulator(self) -> bytearray:
        return bytearray()

    def add_input(self, accumulator: bytearray, keys: list[int | bytes | None]) -> bytearray:
        accumulator += array("q", [key_hash(key) for key in keys if key is not None]).tobytes()
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[bytearray]) -> bytearray:
        merged = bytearray()
        for accumulator in accumulators:
            merged += accumulator
        return merged

    def extract_output(self, accumulator: bytearray) -> list[int]:
        values = numpy.frombuffer(accumulator, dtype=numpy.int64)  # a view of the bytes, sorted in place
        values = values if values.flags.writeable else values.copy()
        values.sort()
        repeated = values[1:][values[1:] == values[:-1]]
        return numpy.unique(repeated).tolist()


class _SplitCandidatesFn(beam.DoFn):
    """For the `unique` check at `position` among the endpoint's: each CheckedBatch's rows whose value hash is
    among the `duplicates` go to CANDIDATES, keyed by value (`quality_rules.value_key`), as `(task, packed
    [row, [[index, reason], ...], [key of each unique check]])`; the batch goes on with their positions
    `removed`."""

    def __init__(self, position: int):
        self._position = position

    def setup(self) -> None:
        self._duplicates = _DuplicatesSeen()

    def process(self, batch: CheckedBatch, duplicates: list[int]) -> Iterator[Any]:
        found = self._duplicates.of(duplicates)
        task_element, rows, size, failures, removed, keys = batch
        mine = keys[self._position]
        candidates = _candidates(mine, found, removed)
        if not candidates:
            yield batch
            return
        rows, by_position = _rows(rows), _by_position(failures)
        for position in candidates:
            entry = [rows[position], by_position.get(position, []), [of_check[position] for of_check in keys]]
            yield pvalue.TaggedOutput(_CANDIDATES, (mine[position], (task_element, pack(entry))))
        yield task_element, batch[1], size, failures, [*removed, *candidates], keys


def _candidates(keys: list, duplicates: frozenset[int], removed: Iterable[int] = ()) -> list[int]:
    """The positions of `keys` (not `removed`) whose `key_hash` is among `duplicates`."""
    if not duplicates:
        return []
    taken = set(removed)
    return [
        position
        for position, key in enumerate(keys)
        if key is not None and key_hash(key) in duplicates and position not in taken
    ]


class _DuplicatesSeen:
    """A DoFn's set of the duplicated hashes (the side input's list, made a set once per list)."""

    def __init__(self) -> None:
        self._seen: tuple[list[int] | None, frozenset[int]] = (None, frozenset())

    def of(self, duplicates: list[int]) -> frozenset[int]:
        if self._seen[0] is not duplicates:
            self._seen = (duplicates, frozenset(duplicates))
        return self._seen[1]


class _CandidateKeysFn(beam.DoFn):
    """For a `unique` check only counted (`warn`, and no `drop_row` check to rank rows by): each `(task, keys)`
    projection's keys whose hash is among the `duplicates`, as `(key, task)`."""

    def setup(self) -> None:
        self._duplicates = _DuplicatesSeen()

    def process(self, projection: tuple[TaskElement, list], duplicates: list[int]) -> Iterator[tuple[Any, TaskElement]]:
        task_element, keys = projection
        for position in _candidates(keys, self._duplicates.of(duplicates)):
            yield keys[position], task_element


class _CountDuplicatesFn(beam.DoFn):
    """The tasks of the rows sharing one value of the `unique` check `index`: the row kept is in the task first by
    `quality_rules.kept_order` (the earliest window, then the parent's key text); every other row fails. Out: the
    failures of each task, as WindowCounts."""

    def __init__(self, index: int):
        self._index = index

    def process(self, keyed: tuple[Any, Iterable[TaskElement]]) -> Iterator[tuple[TaskElement, WindowCounts]]:
        tasks = list(keyed[1])
        if len(tasks) < 2:
            return
        kept = min(tasks, key=lambda task: (_window_start(task), task[4] or ""))
        failed: dict[TaskElement, int] = defaultdict(int)
        for task_element in tasks:
            failed[task_element] += 1
        failed[kept] -= 1
        for task_element, count in failed.items():
            if count:
                yield task_element, [0, {self._index: [count, None]}]


class _RankDuplicatesFn(beam.DoFn):
    """The candidate rows sharing one value of a `unique` check: the first by `quality.kept_order` passes (rows
    that already failed a `drop_row` check, of the checks `dropping`, last), each other gets the check's failure;
    each goes on as a CheckedBatch of one row."""

    def __init__(
        self,
        index: int,
        check: QualityCheckConfig,
        primary_key: str | None,
        dropping: frozenset[int],
        metadata: tuple[str, ...],
    ):
        self._index = index
        self._check = check
        self._primary_key = primary_key
        self._dropping = dropping
        self._metadata = metadata

    def process(self, keyed: tuple[bytes, Iterable[tuple[TaskElement, bytes]]]) -> Iterator[CheckedBatch]:
        _, groups = keyed
        rows = [(task_element, unpack(packed)) for task_element, packed in groups]
        ranked = sorted(rows, key=lambda item: self._order(*item)) if len(rows) > 1 else rows
        kept_task, kept_entry = ranked[0]
        yield _one_row(kept_task, *kept_entry)
        if len(ranked) == 1:
            return
        value = get_path(kept_entry[0], self._check.field)
        reason = duplicate_reason(self._check, value, _window_start(kept_task))
        for task_element, (row, failures, keys) in ranked[1:]:
            yield _one_row(task_element, row, [*failures, [self._index, reason]], keys)

    def _order(self, task_element: TaskElement, entry: list) -> tuple:
        row, failures, _ = entry
        dropped = any(index in self._dropping for index, _ in failures)
        start = _window_start(task_element)
        return kept_order(start, task_element[4], row, self._primary_key, dropped, self._metadata)


def _one_row(task_element: TaskElement, row: Any, failures: list, keys: list) -> CheckedBatch:
    """A CheckedBatch of one row, with its `[index, reason]` failures and its key for each unique check."""
    return task_element, [row], 1, [[0, index, reason] for index, reason in failures], [], [[key] for key in keys]


class _CountFailuresFn(beam.DoFn):
    """Each CheckedBatch's WindowCounts, keyed by its task: for the checks `examples` (those with `fail_window`)
    with the first failure by `kept_order`, whose reason a failed window's error names."""

    def __init__(self, examples: frozenset[int], primary_key: str | None, metadata: tuple[str, ...]):
        self._examples = examples
        self._primary_key = primary_key
        self._metadata = metadata

    def process(self, batch: CheckedBatch) -> Iterator[tuple[TaskElement, WindowCounts]]:
        task_element, rows, size, failures, removed, _ = batch
        by_position = _by_position(failures, removed)
        counts: dict[int, list] = {}
        examples = self._examples
        loaded = None
        for position, found in by_position.items():
            for index, reason in found:
                count = counts.setdefault(index, [0, None])
                count[0] += 1
                if index in examples:
                    loaded = _rows(rows) if loaded is None else loaded
                    first = (self._order(task_element, loaded[position]), reason)
                    count[1] = first if count[1] is None else min(count[1], first)
        yield task_element, [size - len(removed), counts]

    def _order(self, task_element: TaskElement, row: Any) -> tuple:
        """`kept_order` within a window (its start and parent are the same for every row of it)."""
        order = kept_order(_window_start(task_element), None, row, self._primary_key, False, self._metadata)
        return order[3:]


class _WindowCountsFn(beam.CombineFn):
    """WindowCounts of one window's batches added up: rows and failures summed, the least first failure kept."""

    def create_accumulator(self) -> WindowCounts:
        return [0, {}]

    def add_input(self, accumulator: WindowCounts, counts: WindowCounts) -> WindowCounts:
        accumulator[0] += counts[0]
        found = accumulator[1]
        for index, (failed, first) in counts[1].items():
            first = None if first is None else _as_tuple(first)
            mine = found.setdefault(index, [0, first])
            mine[0] += failed
            if first is not None:
                mine[1] = first if mine[1] is None else min(mine[1], first)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[WindowCounts]) -> WindowCounts:
        merged = self.create_accumulator()
        for accumulator in accumulators:
            self.add_input(merged, accumulator)
        return merged

    def extract_output(self, accumulator: WindowCounts) -> WindowCounts:
        return accumulator


def _as_tuple(first: Any) -> tuple:
    """A first failure `(order, reason)` as tuples all the way, however a coder gave it back (for `min`)."""
    (key, content), reason = first
    return (tuple(key), content), reason


class _JudgeWindowFn(beam.DoFn):
    """One window's (for a child endpoint: one child task's) WindowCounts, with a marker if it was planned and
    one if its fetch failed: counts each check's failures, then, when a `fail_window` check failed in it, emits
    its task (main output: the windows whose rows are held back) and a failed WindowResult to FAILED_WINDOWS.
    A window whose fetch failed is not judged by `row_count` and gets no second failed WindowResult (it failed
    already). The error names each `fail_window` check's first failure by `quality.kept_order`, the same on
    every runner."""

    def __init__(self, endpoint: str, checks: list[QualityCheckConfig]):
        self._endpoint = endpoint
        self._checks = checks

    def process(self, grouped: tuple[TaskElement, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        task_element, found = grouped
        fetch_failed = any(True for _ in found[_FETCH_FAILED])
        rows, counts = next(iter(found[_COUNTS]), (0, {}))
        window_errors, checks_failed = [], 0
        for index, check in enumerate(self._checks):
            failed, first = counts.get(index, (0, None))
            if check.check == "row_count":
                reason = None if fetch_failed else row_count_failure(check, rows)
                if reason is None:
                    continue
                error = window_check_failure(reason)
            elif failed:
                error = window_failure(check, failed, rows, first[1]) if check.action == "fail_window" else ""
            else:
                continue
            checks_failed += 1
            self._count(index, check, failed)
            if check.action == "fail_window":
                window_errors.append(error)
        if checks_failed:
            metrics.QUALITY_WINDOWS_FAILED.inc()
        if window_errors:
            if not fetch_failed:
                yield pvalue.TaggedOutput(FAILED_WINDOWS, failed_result(task_element, "; ".join(window_errors)))
            yield task_element

    def _count(self, index: int, check: QualityCheckConfig, rows: int) -> None:
        metrics.quality_counter(counter_name(self._endpoint, index, check, "windows")).inc()
        if rows:
            metrics.quality_counter(counter_name(self._endpoint, index, check, "rows")).inc(rows)
            metrics.QUALITY_ROWS_FAILED.inc(rows)


class _ReleaseRowsFn(beam.DoFn):
    """Each CheckedBatch's rows to write, but those of a window held back (the side input `held`, when given:
    none of its rows is written or dropped); a row that failed a `drop_row` check (of `drop`) goes to DROPPED as
    a dead letter naming every check it failed. The rows of a bundle go out in batches of `batch` (the last of
    each Beam window from `finish_bundle`)."""

    def __init__(self, drop: frozenset[int], run: tuple[str, str], batch: int):
        self._drop = drop
        self._pipeline_id, self._run_id = run
        self._batch = batch

    def setup(self) -> None:
        self._held: tuple[list | None, frozenset] = (None, frozenset())

    def start_bundle(self) -> None:
        self._windows = BundleWindows()
        self._pending: dict[BoundedWindow, list[Any]] = {}

    def process(
        self,
        batch: CheckedBatch,
        window: BoundedWindow = beam.DoFn.WindowParam,
        timestamp: Timestamp = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        return self._release(batch, window, timestamp)

    def _release(self, batch: CheckedBatch, window: BoundedWindow, timestamp: Timestamp) -> Iterator[Any]:
        task_element, rows, _, failures, removed, _ = batch
        rows = _rows(rows)
        by_position = _by_position(failures, removed)
        dropped = {p for p, found in by_position.items() if any(index in self._drop for index, _ in found)}
        for position in sorted(dropped):
            reason = "; ".join(reason for _, reason in by_position[position])
            dead = quality_dead_letter(self._pipeline_id, self._run_id, task_element, rows[position], reason)
            yield pvalue.TaggedOutput(DROPPED, dead)
        if removed or dropped:
            out = set(removed) | dropped
            rows = [row for position, row in enumerate(rows) if position not in out]
        if not rows:
            return
        pending = self._pending.setdefault(self._windows.saw(window, timestamp), [])
        pending.extend(rows)
        while len(pending) >= self._batch:
            yield pending[: self._batch]
            del pending[: self._batch]

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for window, rows in self._pending.items():
            if rows:
                yield self._windows.output(rows, window)


class _ReleaseHeldRowsFn(_ReleaseRowsFn):
    """_ReleaseRowsFn with the side input `held`: the windows whose rows are held back (not written, not
    dropped)."""

    def process(
        self,
        batch: CheckedBatch,
        held: list[TaskElement],
        window: BoundedWindow = beam.DoFn.WindowParam,
        timestamp: Timestamp = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        if held:
            if self._held[0] is not held:
                self._held = (held, frozenset(held))
            if batch[0] in self._held[1]:
                return iter(())
        return self._release(batch, window, timestamp)


class _NewestFn(beam.DoFn):
    """The newest readable value of `field` in a batch of rows, in epoch microseconds."""

    def __init__(self, field: str, time_format: str):
        self._field = field
        self._format = time_format

    def process(self, element: tuple[TaskElement, list[Any]]) -> Iterator[int]:
        newest = None
        for row in element[1]:
            try:
                moment = parse_timestamp(get_path(row, self._field), self._format)
            except (ValueError, TypeError, OverflowError):
                continue
            micros = round(moment.timestamp() * _MICROS)
            newest = micros if newest is None else max(newest, micros)
        if newest is not None:
            yield newest


def _latest(values: Iterable[int | None]) -> int | None:
    """The greatest of `values`, None when there is none (CombineGlobally's function: order does not matter)."""
    return max((value for value in values if value is not None), default=None)


class _JudgeFreshnessFn(beam.DoFn):
    """The run's newest value (epoch microseconds, or None) against now, for one `freshness` check; a stale run
    with `fail_window` fails the endpoint's last planned window (`last`)."""

    def __init__(self, endpoint: str, index: int, check: QualityCheckConfig, field: str, last: TaskElement):
        self._endpoint = endpoint
        self._index = index
        self._check = check
        self._field = field
        self._last = last

    def process(self, newest: int | None) -> Iterator[Any]:
        moment = None if newest is None else datetime.fromtimestamp(newest / _MICROS, tz=UTC)
        reason = freshness_failure(self._check, self._field, moment, datetime.now(UTC))
        if reason is None:
            return
        metrics.quality_counter(counter_name(self._endpoint, self._index, self._check, "windows")).inc()
        metrics.QUALITY_WINDOWS_FAILED.inc()
        if self._check.action == "fail_window":
            yield failed_result(self._last, window_check_failure(reason))


class CheckQuality(beam.PTransform):
    """In: one endpoint's `(task, rows)` batches (from TransformRecords) and the WindowResult elements of its
    level's fetch. Out: ROWS (batches of the rows to write), FAILED_WINDOWS (failed WindowResult elements of the
    windows a check failed), DROPPED (dead-letter rows of the rows dropped) and ROWS_WRITTEN (how many rows go on:
    a count per batch, to add up)."""

    def __init__(self, config: PipelineConfig, plan: RunPlan, endpoint: str):
        super().__init__()
        self._config = config
        self._plan = plan
        self._endpoint = endpoint

    def expand(self, inputs: tuple[pvalue.PCollection, pvalue.PCollection]) -> dict[str, pvalue.PCollection]:
        batches, fetch_results = inputs
        api = self._config.api_config
        endpoint_config = api.endpoints[self._endpoint]
        checks, primary_key = endpoint_config.quality, endpoint_config.primary_key
        run = (self._plan.pipeline_id, self._plan.run_id)
        metadata = METADATA_COLUMNS if api.transform.add_metadata else ()
        record_checks = [(index, check) for index, check in enumerate(checks) if is_record_check(check)]
        uniques = [(index, check) for index, check in enumerate(checks) if check.check == "unique"]
        holding = frozenset(
            index for index, check in enumerate(checks) if check.action == "fail_window" and check.check != "freshness"
        )
        dropping = frozenset(index for index, check in enumerate(checks) if check.action == "drop_row")
        # a unique check that only warns, with no row dropped to rank last, is counted from its keys alone
        counted = {index for index, check in uniques if check.action == "warn" and not dropping}
        packs = bool(holding) or any(index not in counted for index, _ in uniques)
        check_records = _CheckRecordsFn(record_checks, [check.field for _, check in uniques], packs)
        first = checked(batches | "CheckRecords" >> beam.ParDo(check_records), "checked")
        entries, failures = first, []
        for position, (index, check) in enumerate(uniques):
            keys = first | f"ValueKeys[{index}]" >> beam.Map(lambda batch, at=position: (batch[0], batch[5][at]))
            hashed = keys | f"KeysOnly[{index}]" >> beam.Map(lambda projection: projection[1])
            duplicates = pvalue.AsSingleton(
                combine_all(hashed, f"Duplicates[{index}]", _DuplicateHashesFn()), default_value=[]
            )
            if index in counted:
                failures.append(
                    keys
                    | f"CandidateKeys[{index}]" >> beam.ParDo(_CandidateKeysFn(), duplicates)
                    | f"GroupByValue[{index}]" >> beam.GroupByKey()
                    | f"CountDuplicates[{index}]" >> beam.ParDo(_CountDuplicatesFn(index))
                )
                continue
            split = entries | f"Candidates[{index}]" >> beam.ParDo(
                _SplitCandidatesFn(position), duplicates
            ).with_outputs(_CANDIDATES, main=_REST)
            rank = _RankDuplicatesFn(index, check, primary_key, dropping - {index}, metadata)
            ranked = (
                checked(split[_CANDIDATES], f"candidates[{index}]")
                | f"GroupByValue[{index}]" >> beam.GroupByKey()
                | f"RankDuplicates[{index}]" >> beam.ParDo(rank)
            )
            entries = (split[_REST], ranked) | f"AllRanked[{index}]" >> beam.Flatten()
        failures.append(entries | "CountFailures" >> beam.ParDo(_CountFailuresFn(holding, primary_key, metadata)))
        counts = flatten_all(failures, "AllFailures") | "CountsPerWindow" >> beam.CombinePerKey(_WindowCountsFn())
        by_window = {_COUNTS: counts, _FETCH_FAILED: fetch_failures(fetch_results, self._endpoint)}
        if any(check.check == "row_count" for check in checks):
            by_window[_PLANNED] = self._planned_windows(batches.pipeline)
        judged = (
            by_window
            | "GroupByWindow" >> beam.CoGroupByKey()
            | "JudgeWindow"
            >> beam.ParDo(_JudgeWindowFn(self._endpoint, checks)).with_outputs(FAILED_WINDOWS, main=_HELD)
        )
        if holding:
            held = pvalue.AsList(checked(judged[_HELD], "held"))
            release = beam.ParDo(_ReleaseHeldRowsFn(dropping, run, api.batch_size), held)
        else:
            release = beam.ParDo(_ReleaseRowsFn(dropping, run, api.batch_size))
        released = entries | "ReleaseRows" >> release.with_outputs(DROPPED, main=ROWS)
        rows = checked(released[ROWS], "released")
        results = [checked(judged[FAILED_WINDOWS], "window_results")]
        for index, check in enumerate(checks):
            if check.check == "freshness" and (freshness := self._judge_freshness(batches, index, check)):
                results.append(freshness)
        return {
            ROWS: rows,
            FAILED_WINDOWS: flatten_all(results, "AllResults"),
            DROPPED: checked(released[DROPPED], "dropped"),
            ROWS_WRITTEN: rows | "RowsPerBatch" >> beam.Map(len),
        }

    def _planned_windows(self, pipeline: beam.Pipeline) -> pvalue.PCollection:
        """A marker for each planned window of the endpoint, so that `row_count` sees windows with no row."""
        markers = [(task.to_element(), None) for task in self._plan.tasks if task.endpoint == self._endpoint]
        return pipeline | "PlannedWindows" >> beam.Create(markers)

    def _root_windows(self) -> list[WindowTask]:
        """The windows the run planned for the endpoint (a child endpoint's are its root's)."""
        endpoints, root = self._config.api_config.endpoints, self._endpoint
        while endpoints[root].parent is not None:
            root = endpoints[root].parent
        return [task for task in self._plan.tasks if task.endpoint == root and task.parent is None]

    def _judge_freshness(self, batches, index: int, check: QualityCheckConfig) -> pvalue.PCollection | None:
        """The failed WindowResult of a stale run (with `fail_window`); None when the run does not judge
        freshness (`quality.judges_freshness`: a replay, a run that plans no window, a backfill)."""
        api = self._config.api_config
        planned = self._root_windows()
        planned_end = max((task.window.end for task in planned), default=None)
        if not judges_freshness(check, planned_end, self._plan.is_replay, self._plan.started_at):
            return None
        field = check.field or api.transform.column_of(api.watermark.timestamp_field)
        time_format = check.time_format or api.watermark.time_format
        last = max(planned, key=lambda task: task.window.start).to_element()
        return (
            batches
            | f"Newest[{index}]" >> beam.ParDo(_NewestFn(field, time_format))
            | f"NewestOfRun[{index}]" >> beam.CombineGlobally(_latest)
            | f"JudgeFreshness[{index}]" >> beam.ParDo(_JudgeFreshnessFn(self._endpoint, index, check, field, last))
        )
