"""CheckQuality: one endpoint's data quality checks (`quality`), between its transform and its outputs.

    (task, rows) ─▶ CheckRecords ─▶ [per unique check: KeyByValue ─▶ GroupByKey ─▶ RankDuplicates] ─┐
                                                                                                    ▼
          planned windows (row_count), windows whose fetch failed ──────▶ CoGroupByKey by task ─▶ JudgeWindow
    (task, rows) ─▶ Newest ─▶ CombineGlobally(max) ─▶ JudgeFreshness                     │  rows to write
                                    │                                                     ├▶ dropped rows (dead letter)
                                    └──────────── failed WindowResults ◀──────────────────┘

Every row carries the failures found so far (`[check index, reason]`), so nothing is kept in module or DoFn
state. A window's rows are grouped (held together on one worker) before any is written: a `fail_window` failure
holds all of them back and becomes a failed WindowResult, which reaches the dead letter and the watermark commit
(unless the window's fetch already failed: it is failed once).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.api import METADATA_COLUMNS
from beam_api_pipeline.config.quality import QualityCheckConfig
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.element_checks import checked
from beam_api_pipeline.core.packing import pack, unpack
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
    record_failures,
    row_count_failure,
    unique_key,
    window_check_failure,
    window_failure,
)

ROWS = "rows"
FAILED_WINDOWS = "failed_windows"
DROPPED = "dropped"
ROWS_WRITTEN = "rows_written"
_NULLS = "nulls"
_MICROS = 1_000_000
#: What JudgeWindow gets of a window, by CoGroupByKey: its rows (packed), a marker if it was planned (row_count
#: judges windows with no row) and one for each part of its fetch that failed.
_ROWS, _PLANNED, _FETCH_FAILED = "rows", "planned", "fetch_failed"


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


class _CheckRecordsFn(beam.DoFn):
    """Each row with its record-check failures: `(task, packed [[row, [[index, reason], ...]], ...])`."""

    def __init__(self, checks: list[tuple[int, QualityCheckConfig]]):
        self._checks = checks

    def setup(self) -> None:
        self._compiled = [
            (index, check, re.compile(check.pattern) if check.pattern else None) for index, check in self._checks
        ]

    def process(self, element: tuple[TaskElement, list[Any]]) -> Iterator[tuple[TaskElement, bytes]]:
        task_element, rows = element
        yield task_element, pack([[row, record_failures(self._compiled, row)] for row in rows])


class _KeyByValueFn(beam.DoFn):
    """For one `unique` check: each row keyed by its value (rows of a batch with the same value together);
    rows whose value is null go on, unkeyed, to _NULLS."""

    def __init__(self, field: str):
        self._field = field

    def process(self, element: tuple[TaskElement, bytes]) -> Iterator[Any]:
        task_element, packed = element
        groups: dict[bytes, list] = defaultdict(list)
        nulls = []
        for entry in unpack(packed):
            key = unique_key(entry[0], self._field)
            (nulls if key is None else groups[key]).append(entry)
        if nulls:
            yield pvalue.TaggedOutput(_NULLS, (task_element, pack(nulls)))
        for key, group in groups.items():
            yield key, (task_element, pack(group))


class _RankDuplicatesFn(beam.DoFn):
    """The rows sharing one value of a `unique` check: the first by `quality.kept_order` passes (rows that
    already failed a `drop_row` check, of the checks `dropping`, last), each other gets the check's failure."""

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

    def process(self, keyed: tuple[bytes, Iterable[tuple[TaskElement, bytes]]]) -> Iterator[tuple[TaskElement, bytes]]:
        _, groups = keyed
        rows = [(task_element, entry) for task_element, packed in groups for entry in unpack(packed)]
        if len(rows) == 1:
            yield rows[0][0], pack([rows[0][1]])
            return
        ranked = sorted(rows, key=lambda item: self._order(*item))
        kept_task, kept_entry = ranked[0]
        yield kept_task, pack([kept_entry])
        value = get_path(kept_entry[0], self._check.field)
        reason = duplicate_reason(self._check, value, _window_start(kept_task))
        for task_element, (row, failures) in ranked[1:]:
            yield task_element, pack([[row, [*failures, [self._index, reason]]]])

    def _order(self, task_element: TaskElement, entry: list) -> tuple:
        row, failures = entry
        dropped = any(index in self._dropping for index, _ in failures)
        start = _window_start(task_element)
        return kept_order(start, task_element[4], row, self._primary_key, dropped, self._metadata)


class _JudgeWindowFn(beam.DoFn):
    """All rows of one window (for a child endpoint: of one child task), with their failures: counts each
    check's failures, then fails the window (a failed WindowResult to FAILED_WINDOWS, no row written) when a
    `fail_window` check failed in it; else the rows that failed a `drop_row` check go to DROPPED as dead
    letters and the others out in batches of `batch_size`. A window whose fetch failed is not judged by
    `row_count` and gets no second failed WindowResult (it failed already). Rows are taken in
    `quality.kept_order`, so that the first failure a window's error names, and the order of what goes out, are
    the same on every runner."""

    def __init__(
        self,
        endpoint: str,
        checks: list[QualityCheckConfig],
        primary_key: str | None,
        run: tuple[str, str],
        batch: int,
        metadata: tuple[str, ...],
    ):
        self._endpoint = endpoint
        self._checks = checks
        self._primary_key = primary_key
        self._pipeline_id, self._run_id = run
        self._batch = batch
        self._metadata = metadata

    def process(self, grouped: tuple[TaskElement, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        task_element, found = grouped
        window_start, parent = _window_start(task_element), task_element[4]
        fetch_failed = any(True for _ in found[_FETCH_FAILED])
        entries = [entry for packed in found[_ROWS] for entry in unpack(packed)]
        key, metadata = self._primary_key, self._metadata
        entries.sort(key=lambda entry: kept_order(window_start, parent, entry[0], key, False, metadata))
        failed: dict[int, int] = defaultdict(int)
        first_reason: dict[int, str] = {}
        for _, failures in entries:
            for index, reason in failures:
                failed[index] += 1
                first_reason.setdefault(index, reason)
        window_errors, checks_failed = [], 0
        for index, check in enumerate(self._checks):
            if check.check == "row_count":
                reason = None if fetch_failed else row_count_failure(check, len(entries))
                if reason is None:
                    continue
                error = window_check_failure(reason)
            elif failed.get(index):
                error = window_failure(check, failed[index], len(entries), first_reason[index])
            else:
                continue
            checks_failed += 1
            self._count(index, check, failed.get(index, 0))
            if check.action == "fail_window":
                window_errors.append(error)
        if checks_failed:
            metrics.QUALITY_WINDOWS_FAILED.inc()
        if window_errors:
            if not fetch_failed:
                yield pvalue.TaggedOutput(FAILED_WINDOWS, failed_result(task_element, "; ".join(window_errors)))
            return
        drop = {index for index, check in enumerate(self._checks) if check.action == "drop_row"}
        kept = []
        for row, failures in entries:
            if any(index in drop for index, _ in failures):
                reason = "; ".join(reason for _, reason in failures)
                dead = quality_dead_letter(self._pipeline_id, self._run_id, task_element, row, reason)
                yield pvalue.TaggedOutput(DROPPED, dead)
            else:
                kept.append(row)
        for first in range(0, len(kept), self._batch):
            yield kept[first : first + self._batch]

    def _count(self, index: int, check: QualityCheckConfig, rows: int) -> None:
        metrics.quality_counter(counter_name(self._endpoint, index, check, "windows")).inc()
        if rows:
            metrics.quality_counter(counter_name(self._endpoint, index, check, "rows")).inc(rows)
            metrics.QUALITY_ROWS_FAILED.inc(rows)


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
        checks = endpoint_config.quality
        run = (self._plan.pipeline_id, self._plan.run_id)
        metadata = METADATA_COLUMNS if api.transform.add_metadata else ()
        record_checks = [(index, check) for index, check in enumerate(checks) if is_record_check(check)]
        entries = batches | "CheckRecords" >> beam.ParDo(_CheckRecordsFn(record_checks))
        dropping = frozenset(index for index, check in enumerate(checks) if check.action == "drop_row")
        for index, check in enumerate(checks):
            if check.check == "unique":
                rank = _RankDuplicatesFn(index, check, endpoint_config.primary_key, dropping - {index}, metadata)
                entries = self._rank_duplicates(entries, index, check, rank)
        endpoint = self._endpoint
        by_window = {
            _ROWS: checked(entries, "checked"),
            _FETCH_FAILED: fetch_failures(fetch_results, endpoint),
        }
        if any(check.check == "row_count" for check in checks):
            by_window[_PLANNED] = self._planned_windows(batches.pipeline)
        judged = (
            by_window
            | "GroupByWindow" >> beam.CoGroupByKey()
            | "JudgeWindow"
            >> beam.ParDo(
                _JudgeWindowFn(endpoint, checks, endpoint_config.primary_key, run, api.batch_size, metadata)
            ).with_outputs(FAILED_WINDOWS, DROPPED, main=ROWS)
        )
        rows = checked(judged[ROWS], "judged")
        results = [checked(judged[FAILED_WINDOWS], "window_results")]
        for index, check in enumerate(checks):
            if check.check == "freshness" and (freshness := self._judge_freshness(batches, index, check)):
                results.append(freshness)
        return {
            ROWS: rows,
            FAILED_WINDOWS: results[0] if len(results) == 1 else results | "AllResults" >> beam.Flatten(),
            DROPPED: checked(judged[DROPPED], "dropped"),
            ROWS_WRITTEN: rows | "RowsPerBatch" >> beam.Map(len),
        }

    def _rank_duplicates(self, entries, index: int, check: QualityCheckConfig, rank: _RankDuplicatesFn):
        keyed = entries | f"KeyByValue[{index}]" >> beam.ParDo(_KeyByValueFn(check.field)).with_outputs(
            _NULLS, main="keyed"
        )
        ranked = (
            checked(keyed.keyed, f"keyed[{index}]")
            | f"GroupByValue[{index}]" >> beam.GroupByKey()
            | f"RankDuplicates[{index}]" >> beam.ParDo(rank)
        )
        return (ranked, keyed[_NULLS]) | f"AllRanked[{index}]" >> beam.Flatten()

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
