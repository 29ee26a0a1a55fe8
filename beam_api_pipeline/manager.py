"""PipelineManager: runs a pipeline and keeps its run records; the CLI and the demo use it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline import metrics
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.factory import PipelineFactory
from beam_api_pipeline.run_plan import RunPlan, make_plan
from beam_api_pipeline.watermark.runs import FAILED, RUNNING, PipelineRun
from beam_api_pipeline.watermark.store import WatermarkStore, open_store

logger = logging.getLogger(__name__)

_REPORTED_COUNTERS = ("pages", "requests", "retries", "records_fetched", "files_written", "dead_letter_files")


@dataclass(frozen=True)
class RunReport:
    """What a finished local run did, for the command line."""

    plan: RunPlan
    run: PipelineRun
    counters: dict[str, int]
    watermarks_after: dict[str, datetime | None]

    @property
    def succeeded(self) -> bool:
        return self.run.status == "succeeded"


def _counters(result) -> dict[str, int]:
    found = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE))["counters"]
    totals = dict.fromkeys(_REPORTED_COUNTERS, 0)
    for counter in found:
        if counter.key.metric.name in totals:
            totals[counter.key.metric.name] += counter.committed or 0
    return totals


def prepare_run(
    config: PipelineConfig,
    store: WatermarkStore,
    beam_args: list[str] | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> tuple[beam.Pipeline, RunPlan]:
    """Plan a run from the stored watermarks, record it as running, and build its (unstarted) pipeline."""
    plan = make_plan(config, store, start_time, end_time)
    store.save_run(PipelineRun(plan.run_id, config.pipeline_id, RUNNING, plan.started_at))
    logger.info("run %s: %d windows", plan.run_id, len(plan.tasks))
    pipeline = beam.Pipeline(options=PipelineOptions(beam_args or []))
    PipelineFactory(config, plan).build(pipeline)
    return pipeline, plan


class PipelineManager:
    """Plans, runs and records pipeline runs against the configured control store."""

    def execute_pipeline(
        self,
        config: PipelineConfig,
        beam_args: list[str] | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> RunReport:
        """Run `config` and wait for it (DirectRunner by default); the run record says how it went."""
        store = open_store(config.watermark_store)
        try:
            pipeline, plan = prepare_run(config, store, beam_args, start_time, end_time)
            try:
                result = pipeline.run()
                result.wait_until_finish()
            except Exception as error:
                message = f"{type(error).__name__}: {error}".splitlines()[0]
                failed = PipelineRun(
                    plan.run_id, config.pipeline_id, FAILED, plan.started_at, datetime.now(UTC), errors=[message]
                )
                store.save_run(failed)
                raise
            run = store.get_run(plan.run_id)
            after = {endpoint: store.get_watermark(config.pipeline_id, endpoint) for endpoint in plan.watermarks_before}
            return RunReport(plan, run, _counters(result), after)
        finally:
            store.close()
