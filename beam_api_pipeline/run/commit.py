"""CommitWatermark: after every sink has written, move each endpoint's watermark over its completed windows
and save the run record."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.client.validators import Validators
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.runs import MAX_ERRORS_KEPT, PipelineRun, RunStatus
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.control.watermarks import WindowOutcome
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.beam_windows import combine_all, count_all
from beam_api_pipeline.core.windowing import Window, format_utc
from beam_api_pipeline.fetch.child_fetch import batch_tasks
from beam_api_pipeline.plan.poll_record import EndpointPoll, add_poll
from beam_api_pipeline.plan.run_plan import (
    RESULT_FIGURES,
    RunPlan,
    TaskElement,
    WindowResult,
    WindowTask,
    endpoint_stats,
    task_endpoint,
    watermarks_after,
    window_outcomes,
)
from beam_api_pipeline.records.placement import Placement, PlacementElement
from beam_api_pipeline.records.row_schemas import record_run_schema, write_schema_files
from beam_api_pipeline.run.alerts import RunFacts, send_run_alert
from beam_api_pipeline.run.commit_inputs import CommitInputs, tally_inputs
from beam_api_pipeline.schemas.infer import Fields

logger = logging.getLogger(__name__)


class _CommitFn(beam.DoFn):
    """Runs once, with the run's CommitInputs; the side inputs make it wait for the sinks and the dead letter."""

    def __init__(
        self,
        config: PipelineConfig,
        plan: RunPlan,
        alert_with: str | None,
        schema_files: dict[str, list[str]],
        schema_tables: dict[str, list[str]] | None = None,
    ):
        self._config = config
        self._plan = plan
        self._alert_with = alert_with
        self._schema_files = schema_files
        self._schema_tables = schema_tables or {}

    def process(self, inputs: CommitInputs, files_written: int, dead_letter_files: int) -> Iterator[PipelineRun]:
        run, committed = self._commit(self._plan, inputs)
        if self._alert_with is not None:
            self._send_alert(run, committed)
        metrics.FILES_WRITTEN.inc(files_written)
        metrics.DEAD_LETTER_FILES.inc(dead_letter_files)
        logger.info(
            "run %s %s: %d files, %d dead-letter files", run.run_id, run.status, files_written, dead_letter_files
        )
        yield run

    def _commit(self, plan: RunPlan, inputs: CommitInputs) -> tuple[PipelineRun, dict[str, datetime | None]]:
        """Move the watermarks over `plan`'s complete windows and save their requests' validators
        (`save_validators`), save the run record (`_record_of`, with each endpoint's figures in its stats) and
        record the schemas; the record and the watermarks committed."""
        results = [WindowResult.from_element(element) for element in inputs.results]
        child_tasks = [task for batch in inputs.spawned for task in batch_tasks(batch)]
        outcomes = window_outcomes(plan, results, child_tasks)
        figures = endpoint_figures(inputs.placements, inputs.endpoint_rows)
        with opened_store(self._config.watermark_store) as store:
            committed = watermarks_after(plan, outcomes) if self._config.api_config.watermark.enabled else {}
            run = self._run_record(plan, outcomes, results, child_tasks, inputs, figures)
            lost = self._advance_holding_lease(store, plan, committed)
            if lost is None:
                on = self._config.api_config.watermark.enabled
                save_validators(store, plan, results, outcomes, watermarks_now(plan, committed) if on else None)
            else:
                committed = {}
            run = self._record_of(store, run, outcomes)
            if lost is not None:  # once, though each later poll of a streaming run finds it lost again
                errors = [str(lost), *(error for error in run.errors if error != str(lost))][:MAX_ERRORS_KEPT]
                run = replace(run, status=RunStatus.FAILED, errors=errors)
            store.save_run(run)
            for endpoint, fields in sorted(inputs.schemas):
                self._record_schema(store, endpoint, fields)
            if plan.job_holds_lease:
                self._hold_lease(store, plan)
        return run, committed

    def _advance_holding_lease(
        self, store, plan: RunPlan, committed: dict[str, datetime | None]
    ) -> lease.LeaseLostError | None:
        """Move the `committed` watermarks if the run still holds the pipeline's lease, renewing it
        (`lease.advance_holding`); the error, with no watermark moved, when another run took it."""
        settings = self._config.watermark_store
        ttl = settings.job_lease_ttl if plan.job_holds_lease else settings.lease_ttl
        moved = {endpoint: watermark for endpoint, watermark in committed.items() if watermark is not None}
        try:
            lease.advance_holding(store, plan.pipeline_id, plan.run_id, ttl, moved)
        except lease.LeaseLostError as error:
            logger.error("run %s: %s", plan.run_id, error)
            return error
        return None

    def _hold_lease(self, store, plan: RunPlan) -> None:
        """A Dataflow job's pipeline lease ends with its commit (a streaming job's poll commits renew it)."""
        store.release_lease(plan.pipeline_id, plan.run_id)

    def _record_of(self, _store, run: PipelineRun, _outcomes: dict[str, list[WindowOutcome]]) -> PipelineRun:
        """The run record to save: the run's own."""
        return run

    def _record_schema(self, store, endpoint: str, fields: Fields) -> None:
        """The schema version of `endpoint`'s rows, and its schema files. After the run record: a failure here is
        logged as an error and leaves the run as it is recorded (its version is missing from the history)."""
        plan = self._plan
        try:
            version = record_run_schema(
                store,
                plan.pipeline_id,
                endpoint,
                fields,
                plan.run_id,
                plan.schemas_before.get(endpoint),
                applied_to=self._schema_tables.get(endpoint, []),
            )
            write_schema_files(self._schema_files.get(endpoint, []), version, plan.run_id)
        except Exception as error:  # the rows are written: the run must still be recorded and alerted
            logger.error("schema of %s not recorded: %s: %s", endpoint, type(error).__name__, error)

    def _send_alert(self, run: PipelineRun, committed: dict[str, datetime | None]) -> None:
        """The run's alert, from what a job knows at its end (its counters are not readable here): each endpoint's
        watermark is the one committed, else the one it had (a watermark never moves back)."""
        facts = RunFacts(run, dead_letter_location=self._alert_with, watermarks=watermarks_now(self._plan, committed))
        send_run_alert(self._config.alerts, facts, datetime.now(UTC))

    def _run_record(
        self,
        plan: RunPlan,
        outcomes,
        results: list[WindowResult],
        child_tasks: list[WindowTask],
        inputs: CommitInputs,
        figures: dict[str, dict[str, int]],
    ) -> PipelineRun:
        done = sum(o.complete for endpoint_outcomes in outcomes.values() for o in endpoint_outcomes)
        failed = sum(not o.complete for endpoint_outcomes in outcomes.values() for o in endpoint_outcomes)
        failures = [r for r in results if r.status.fails_window]
        errors = [
            f"{r.task.endpoint} {r.task.label()}: {r.error}"
            for r in sorted(failures, key=lambda r: (r.task.endpoint, r.task.window.start))
        ]
        return PipelineRun(
            run_id=plan.run_id,
            pipeline_id=plan.pipeline_id,
            status=RunStatus.SUCCEEDED if failed == 0 else RunStatus.FAILED,
            start_time=plan.started_at,
            end_time=datetime.now(UTC),
            records_processed=inputs.rows_written,
            errors=errors[:MAX_ERRORS_KEPT],
            windows_done=done,
            windows_failed=failed,
            endpoint_stats=with_figures(endpoint_stats(plan, results, child_tasks), figures, results),
            dead_letter_rows=len(failures) + inputs.invalid_records,
        )


class _CommitPollFn(_CommitFn):
    """A streaming run's commit of one poll (its Beam window): its planned windows (`planned`) are the plan; the
    run record adds the poll to what the run's earlier polls recorded (`poll_record.add_poll`). Polls are committed
    one at a time (`polls.PlanPolls` plans the next one only then). The sinks' results are waited for, not counted:
    a windowed WriteToText names its files once the poll's window is closed, too late to be counted in it. Every
    row of the poll is written by now: the oldest (`oldest_row_ms`, its `timestamp_field` time) gives the poll's
    `poll_write_latency_ms`."""

    def process(self, inputs: CommitInputs, files_written: int, dead_letter_files: int) -> Iterator[PipelineRun]:
        if inputs.oldest_row_ms is not None:
            metrics.POLL_WRITE_LATENCY_MS.update(int(time.time() * 1000) - inputs.oldest_row_ms)
        plan = replace(self._plan, tasks=[WindowTask.from_element(element) for element in inputs.planned])
        run, committed = self._commit(plan, inputs)
        moved = {endpoint: format_utc(watermark) for endpoint, watermark in committed.items() if watermark}
        logger.info("run %s is %s; watermarks moved: %s", run.run_id, run.status, moved or "none")
        yield run

    def _hold_lease(self, store, plan: RunPlan) -> None:
        """A streaming job keeps its lease: the check before the poll's watermarks renewed it."""

    def _record_of(self, store, run: PipelineRun, outcomes: dict[str, list[WindowOutcome]]) -> PipelineRun:
        metrics.RECORDS_PER_POLL.update(run.records_processed)
        logger.info(
            "poll committed: %d records written, %d windows done, %d failed",
            run.records_processed,
            run.windows_done,
            run.windows_failed,
        )
        endpoints = {endpoint: EndpointPoll.of(endpoint_outcomes) for endpoint, endpoint_outcomes in outcomes.items()}
        return add_poll(store.get_run(run.run_id), run, endpoints)


class CommitWatermark(beam.PTransform):
    """WindowResults (as `run_plan.ResultElement`) in; the other inputs, each a PCollection: `written` (one count
    per sink of what it wrote, see `WriteOutputs`), `dead_letters` (what the dead letter wrote), `rows_written`
    (counts of rows handed to the outputs, added up), `invalid_records` (the records that went to the dead letter
    instead, counted), `placements` (`(task, placement.Placement element)` of each window, from `JudgePlacement`),
    `endpoint_rows` (`(endpoint, rows)` of each batch handed to the outputs), `schemas` (each endpoint's
    `(endpoint, fields)` of the rows it wrote, from `schemas.RowSchemas`: the commit records a new schema version
    where they changed it, naming the tables that grew with it, `schema_tables`, and writes the version to the
    endpoint's `schema_files`) and `spawned` (the child tasks
    made, as `fetch_children.ChildBatch`es; None without child endpoints).

    The sinks' and the dead letter's results are side inputs, complete only when what they count is written, so
    the commit runs after every write, on every runner; one combine gathers the rest
    (`commit_inputs.tally_inputs`). With `alert_with` (the dead-letter location) the commit also sends the run's
    alert (`alerts.send_run_alert`). A streaming run gives `planned` (the WindowTasks of its polls, as elements,
    each poll in a Beam window of its own) and `row_times` (the oldest `timestamp_field` time, in epoch
    milliseconds, of each batch of rows handed to the outputs), and commits each poll once it is written."""

    def __init__(
        self,
        config: PipelineConfig,
        plan: RunPlan,
        *,
        written,
        dead_letters,
        rows_written,
        invalid_records,
        schemas,
        placements,
        endpoint_rows,
        spawned=None,
        schema_files: dict[str, list[str]] | None = None,
        schema_tables: dict[str, list[str]] | None = None,
        alert_with: str | None = None,
        planned=None,
        row_times=None,
    ):
        super().__init__()
        self._placements = placements
        self._endpoint_rows = endpoint_rows
        self._planned = planned
        self._row_times = row_times
        self._spawned = spawned
        self._schemas = schemas
        self._schema_files = schema_files or {}
        self._schema_tables = schema_tables or {}
        self._config = config
        self._plan = plan
        self._written = written
        self._dead_letters = dead_letters
        self._rows_written = rows_written
        self._invalid_records = invalid_records
        self._alert_with = alert_with

    def expand(self, results: pvalue.PCollection) -> pvalue.PCollection:
        # Each side input is one value (per poll, in a streaming run): a runner may hand a windowed side input to
        # the main input as soon as its first value is there, and these must be complete.
        sinks = {
            "files_written": pvalue.AsSingleton(combine_all(self._written, "CountFiles", sum), default_value=0),
            "dead_letter_files": pvalue.AsSingleton(
                count_all(self._dead_letters, "CountDeadLetterFiles"), default_value=0
            ),
        }
        inputs = {
            "results": results,
            "rows_written": self._rows_written,
            "invalid_records": self._invalid_records | "EachInvalid" >> beam.Map(lambda _: 1),
            "schemas": self._schemas,
            "placements": self._placements,
            "endpoint_rows": self._endpoint_rows,
        }
        if self._spawned is not None:
            inputs["spawned"] = self._spawned
        commit_args = (self._config, self._plan, self._alert_with, self._schema_files, self._schema_tables)
        if self._planned is None:
            return tally_inputs(inputs) | "Commit" >> beam.ParDo(_CommitFn(*commit_args), **sinks)
        # a streaming run: one commit per poll that planned windows
        inputs.update(planned=self._planned, oldest_row_ms=self._row_times)
        return tally_inputs(inputs) | "CommitPoll" >> beam.ParDo(_CommitPollFn(*commit_args), **sinks)


_NO_FIGURES = {"written": 0, "outside": 0, "invalid": 0}
_NEVER = datetime.min.replace(tzinfo=UTC)  # a watermark never stored


def watermarks_now(plan: RunPlan, committed: dict[str, datetime | None]) -> dict[str, datetime | None]:
    """Each endpoint's watermark once `committed` is: the later of the committed and the stored one."""
    return {
        endpoint: max(filter(None, (before, committed.get(endpoint))), default=None)
        for endpoint, before in plan.watermarks_before.items()
    }


def save_validators(
    store,
    plan: RunPlan,
    results: list[WindowResult],
    outcomes: dict[str, list[WindowOutcome]],
    watermarks: dict[str, datetime | None] | None,
):
    """Save the validators of the requests of `plan`'s windows that the watermark has passed for good
    (`client.conditional`), after their rows are written: a key names no window (a `filter: client` request, a
    child list repeat in every window), so a 304 to it in any window must stand only for rows the pipeline has.
    A window's validators are saved when, for its endpoint and every endpoint below it (the `family`: a 304 to
    a parent's request makes no child task, so a failed child task would never be read again), the window is
    complete in this run and the endpoint's watermark (`watermarks`, after this commit: `watermarks_now`) is at
    or past the window's end. Without watermarks (`watermarks` None) the window complete for the whole family is
    enough: such a run reads one window, from the epoch. A failure to save them is logged: the next run reads
    those requests in full."""
    tree = plan.tree()
    complete = {(endpoint, o.window) for endpoint, found in outcomes.items() for o in found if o.complete}

    def passed(endpoint: str, window: Window) -> bool:
        family = tree.family(endpoint)
        if watermarks is not None and any((watermarks.get(e) or _NEVER) < window.end for e in family):
            return False
        return all((e, window) in complete for e in family)

    validators = {
        (result.task.endpoint, key): Validators(etag, last_modified)
        for result in results
        if passed(result.task.endpoint, result.task.window)
        for key, etag, last_modified in result.validators
    }
    if not validators:
        return
    try:
        store.save_validators(plan.pipeline_id, plan.run_id, validators)
    except Exception as error:  # the rows are written: the run must still be recorded; the next reads in full
        logger.error("validators of %d requests not saved: %s: %s", len(validators), type(error).__name__, error)


def endpoint_figures(
    placements: list[tuple[TaskElement, PlacementElement]], endpoint_rows: list[tuple[str, int]]
) -> dict[str, dict[str, int]]:
    """Per endpoint, the rows handed to its outputs (`written`) and its records outside their window and
    invalid (`placement.Placement`)."""
    figures: dict[str, dict[str, int]] = defaultdict(lambda: dict(_NO_FIGURES))
    for task_element, element in placements:
        placement, entry = Placement.from_element(element), figures[task_endpoint(task_element)]
        entry["outside"] += placement.outside
        entry["invalid"] += placement.invalid
    for endpoint, rows in endpoint_rows:
        figures[endpoint]["written"] += rows
    return dict(figures)


def with_figures(
    stats: dict[str, dict[str, float]], figures: dict[str, dict[str, int]], results: list[WindowResult]
) -> dict[str, dict[str, float]]:
    """`stats` (`run_plan.endpoint_stats`) with each endpoint's `figures` (zeros when it has none) and the
    RESULT_FIGURES its windows' results carry (a figure no result carries is left out)."""
    per_window: dict[WindowTask, list[WindowResult]] = defaultdict(list)
    for result in results:
        per_window[result.task].append(result)
    combined = {endpoint: {**entry, **_NO_FIGURES, **figures.get(endpoint, {})} for endpoint, entry in stats.items()}
    for name, (of_parts, of_windows) in RESULT_FIGURES.items():
        by_endpoint: dict[str, list[int]] = defaultdict(list)
        for task, parts in per_window.items():
            values = [value for part in parts if (value := getattr(part, name)) is not None]
            if values:
                by_endpoint[task.endpoint].append(of_parts(values))
        for endpoint, values in by_endpoint.items():
            combined[endpoint][name] = of_windows(values)
    return combined
