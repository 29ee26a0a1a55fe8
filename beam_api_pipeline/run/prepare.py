"""Preparing a run, wherever it then runs (here, or as a Dataflow job): its plan from the stored watermarks, its
unstarted pipeline on the runner the Beam options choose, and its run record saved as running."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

import apache_beam as beam

from beam_api_pipeline.config import PipelineConfig, ServiceConfig, format_duration
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.store import WatermarkStore
from beam_api_pipeline.core.beam_options import ViewOnceOptions
from beam_api_pipeline.core.logging_setup import set_log_context
from beam_api_pipeline.core.runners import create_runner, with_default_mode
from beam_api_pipeline.fetch.range_rules import range_paging
from beam_api_pipeline.gcp.dataflow import service_labels
from beam_api_pipeline.plan.run_plan import RunPlan, make_plan, make_streaming_plan
from beam_api_pipeline.run.factory import PipelineFactory
from beam_api_pipeline.run.run_records import with_service

logger = logging.getLogger(__name__)


def prepare_run(
    config: PipelineConfig,
    store: WatermarkStore,
    beam_args: list[str] | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    run_id: str | None = None,
    plan: RunPlan | None = None,
    *,
    service: ServiceConfig | None = None,
    job_alerts: bool = False,
    backfill: bool = False,
    job_holds_lease: bool = False,
) -> tuple[beam.Pipeline, RunPlan]:
    """Plan a run of `config` (which the caller has checked, `validate.check_config`) from the stored watermarks
    (unless given a plan), build its (unstarted) pipeline on the runner `beam_args` choose (see `runners`), and
    record the run as running, for `service` (the environment file's). With `job_alerts` the job sends the run's
    alert itself (a launched job: nobody waits for it). A `backfill` (of a streaming pipeline too) is a batch run
    that leaves the watermarks; with `job_holds_lease` the job's commit releases the pipeline's lease, which the
    caller took for the run (a Dataflow job)."""
    service = service or ServiceConfig()
    api = config.api_config
    walks_pages = any(range_paging(api, endpoint) is None for endpoint in api.endpoints)
    if plan is None and config.streaming.enabled and not backfill:
        plan = make_streaming_plan(config, store, start_time, end_time, run_id=run_id)
    plan = plan or make_plan(config, store, start_time, end_time, run_id=run_id, backfill=backfill)
    plan = replace(plan, job_holds_lease=job_holds_lease)
    streaming = ["--streaming"] if plan.polls else []  # a replay of a streaming pipeline runs as a batch run
    one_walk = len(plan.tasks) == 1 and all(endpoint.parent is None for endpoint in api.endpoints.values())
    parallel = walks_pages and not one_walk
    options = ViewOnceOptions([*with_default_mode(beam_args or [], parallel), *_label_args(service), *streaming])
    pipeline = beam.Pipeline(runner=create_runner(options), options=options)
    PipelineFactory(config, plan, job_alerts=job_alerts).build(pipeline)
    running = PipelineRun(plan.run_id, config.pipeline_id, RunStatus.RUNNING, plan.started_at)
    store.save_run(with_service(running, service))
    set_log_context(pipeline_id=config.pipeline_id, run_id=plan.run_id)
    if plan.polls is None:
        logger.info("run %s: %d windows", plan.run_id, len(plan.tasks))
    else:
        logger.info("run %s: polls every %s", plan.run_id, format_duration(plan.polls.interval))
    return pipeline, plan


def _label_args(service: ServiceConfig) -> list[str]:
    """`--labels` options naming `service`, for runners that label their jobs (Dataflow)."""
    return [f"--labels={key}={value}" for key, value in service_labels(service).items()]
