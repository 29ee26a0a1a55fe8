"""CommitWatermark: after every sink has written, move each endpoint's watermark over its completed windows
and save the run record."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline import metrics
from beam_api_pipeline.alerts import RunFacts, send_run_alert
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.run_plan import (
    ResultElement,
    RunPlan,
    WindowResult,
    WindowTask,
    endpoint_stats,
    watermarks_after,
    window_outcomes,
)
from beam_api_pipeline.schema_infer import Fields
from beam_api_pipeline.transforms.fetch_children import ChildBatch, batch_tasks
from beam_api_pipeline.transforms.schemas import record_run_schema, write_schema_files
from beam_api_pipeline.watermark.runs import PipelineRun, RunStatus
from beam_api_pipeline.watermark.store import open_store

logger = logging.getLogger(__name__)

MAX_ERRORS_KEPT = 20


class _CommitFn(beam.DoFn):
    """Runs once, with every WindowResult; the side inputs make it wait for the sinks and the dead letter."""

    def __init__(
        self, config: PipelineConfig, plan: RunPlan, alert_with: str | None, schema_files: dict[str, list[str]]
    ):
        self._config = config
        self._plan = plan
        self._alert_with = alert_with
        self._schema_files = schema_files

    def process(
        self,
        result_elements: list[ResultElement],
        written: list[int],
        dead_letter_files: int,
        rows_written: int,
        invalid_records: int,
        spawned: list[ChildBatch],
        schemas: list[tuple[str, Fields]],
    ) -> Iterator[PipelineRun]:
        results = [WindowResult.from_element(element) for element in result_elements]
        child_tasks = [task for batch in spawned for task in batch_tasks(batch)]
        outcomes = window_outcomes(self._plan, results, child_tasks)
        store = open_store(self._config.watermark_store)
        try:
            committed = watermarks_after(self._plan, outcomes) if self._config.api_config.watermark.enabled else {}
            for endpoint, watermark in committed.items():
                if watermark is not None:
                    store.advance_watermark(self._plan.pipeline_id, endpoint, watermark, self._plan.run_id)
            run = self._run_record(outcomes, results, child_tasks, rows_written, invalid_records)
            store.save_run(run)
            for endpoint, fields in sorted(schemas):
                self._record_schema(store, endpoint, fields)
        finally:
            store.close()
        if self._alert_with is not None:
            self._send_alert(run, committed)
        metrics.FILES_WRITTEN.inc(sum(written))
        metrics.DEAD_LETTER_FILES.inc(dead_letter_files)
        logger.info(
            "run %s %s: %d files, %d dead-letter files", run.run_id, run.status, sum(written), dead_letter_files
        )
        yield run

    def _record_schema(self, store, endpoint: str, fields: Fields) -> None:
        """The schema version of `endpoint`'s rows, and its schema files. After the run record: a failure here is
        logged as an error and leaves the run as it is recorded (its version is missing from the history)."""
        plan = self._plan
        try:
            version = record_run_schema(
                store, plan.pipeline_id, endpoint, fields, plan.run_id, plan.schemas_before.get(endpoint)
            )
            write_schema_files(self._schema_files.get(endpoint, []), version, plan.run_id)
        except Exception as error:  # the rows are written: the run must still be recorded and alerted
            logger.error("schema of %s not recorded: %s: %s", endpoint, type(error).__name__, error)

    def _send_alert(self, run: PipelineRun, committed: dict[str, datetime | None]) -> None:
        """The run's alert, from what a job knows at its end (its counters are not readable here): each endpoint's
        watermark is the one committed, else the one it had (a watermark never moves back)."""
        watermarks = {
            endpoint: max(filter(None, (before, committed.get(endpoint))), default=None)
            for endpoint, before in self._plan.watermarks_before.items()
        }
        facts = RunFacts(run, dead_letter_location=self._alert_with, watermarks=watermarks)
        send_run_alert(self._config.alerts, facts, datetime.now(UTC))

    def _run_record(
        self,
        outcomes,
        results: list[WindowResult],
        child_tasks: list[WindowTask],
        rows_written: int,
        invalid_records: int,
    ) -> PipelineRun:
        done = sum(o.complete for endpoint_outcomes in outcomes.values() for o in endpoint_outcomes)
        failed = sum(not o.complete for endpoint_outcomes in outcomes.values() for o in endpoint_outcomes)
        failures = [r for r in results if r.status.fails_window]
        errors = [
            f"{r.task.endpoint} {r.task.label()}: {r.error}"
            for r in sorted(failures, key=lambda r: (r.task.endpoint, r.task.window.start))
        ]
        return PipelineRun(
            run_id=self._plan.run_id,
            pipeline_id=self._plan.pipeline_id,
            status=RunStatus.SUCCEEDED if failed == 0 else RunStatus.FAILED,
            start_time=self._plan.started_at,
            end_time=datetime.now(UTC),
            records_processed=rows_written,
            errors=errors[:MAX_ERRORS_KEPT],
            windows_done=done,
            windows_failed=failed,
            endpoint_stats=endpoint_stats(self._plan, results, child_tasks),
            dead_letter_rows=len(failures) + invalid_records,
        )


class CommitWatermark(beam.PTransform):
    """WindowResults (as `run_plan.ResultElement`) in, the main input. Side inputs, each a PCollection:
    `written` (one count per sink of what it wrote, see `WriteOutputs`), `dead_letters` (what the dead letter
    wrote), `rows_written` and `invalid_records` (single counts), `spawned` (the child tasks made, as
    `fetch_children.ChildBatch`es) and `schemas` (each endpoint's `(endpoint, fields)` of the rows it wrote, from
    `schemas.RowSchemas`: the commit records a new schema version where they changed it, and writes the version
    to the endpoint's `schema_files`). Each is complete only when what it counts is written, so the commit runs
    after every write, on every runner. With `alert_with` (the dead-letter location) the commit also sends the
    run's alert (`alerts.send_run_alert`)."""

    def __init__(
        self,
        config: PipelineConfig,
        plan: RunPlan,
        *,
        written,
        dead_letters,
        rows_written,
        invalid_records,
        spawned,
        schemas,
        schema_files: dict[str, list[str]] | None = None,
        alert_with: str | None = None,
    ):
        super().__init__()
        self._spawned = spawned
        self._schemas = schemas
        self._schema_files = schema_files or {}
        self._config = config
        self._plan = plan
        self._written = written
        self._dead_letters = dead_letters
        self._rows_written = rows_written
        self._invalid_records = invalid_records
        self._alert_with = alert_with

    def expand(self, results: pvalue.PCollection) -> pvalue.PCollection:
        return (
            results
            | "AllResults" >> beam.combiners.ToList()
            | "Commit"
            >> beam.ParDo(
                _CommitFn(self._config, self._plan, self._alert_with, self._schema_files),
                written=pvalue.AsList(self._written),
                dead_letter_files=pvalue.AsSingleton(
                    self._dead_letters | "CountDeadLetterFiles" >> beam.combiners.Count.Globally()
                ),
                rows_written=pvalue.AsSingleton(self._rows_written),
                invalid_records=pvalue.AsSingleton(self._invalid_records),
                spawned=pvalue.AsList(self._spawned),
                schemas=pvalue.AsList(self._schemas),
            )
        )
