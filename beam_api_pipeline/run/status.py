"""A run's status (`status`): its run record, which for a launched run is brought up to date from its Dataflow
job's state (a job that ended before its run recorded its end is recorded as failed, and its alert sent)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.control.runs import PipelineRun, RunStatus, run_status
from beam_api_pipeline.control.store import WatermarkStore, opened_store
from beam_api_pipeline.gcp.dataflow import DataflowClient
from beam_api_pipeline.run.alerts import RunFacts, job_url, send_run_alert


def get_run_status(
    run_id: str, configs: Iterable[PipelineConfig], dataflow: tuple[str, str] | None = None
) -> PipelineRun | None:
    """The record of `run_id`, from the control store of the first of `configs` that has it; a launched run's
    status is refreshed from the Dataflow jobs API when `dataflow` gives its (project, region). A job that ended
    before it recorded its end (a crash, a cancel) is recorded as failed, and its alert sent."""
    for config in configs:
        with opened_store(config.watermark_store) as store:
            run = store.get_run(run_id)
            if run is None:
                continue
            if run.job_id and dataflow and run.status in (RunStatus.LAUNCHED, RunStatus.RUNNING):
                run = _refresh_from_dataflow(run, store, *dataflow)
                if run.status != RunStatus.RUNNING:
                    facts = RunFacts(run, job_url=job_url(*dataflow, run.job_id))
                    send_run_alert(config.alerts, facts, datetime.now(UTC))
            return run
    return None


def _refresh_from_dataflow(run: PipelineRun, store: WatermarkStore, project: str, region: str) -> PipelineRun:
    """The run with the status of its Dataflow job; a finished job's status is saved (a failed one with why)."""
    state = DataflowClient(project, region).job_state(run.job_id)
    status = run_status(state)
    if status == RunStatus.RUNNING:
        return replace(run, status=RunStatus.RUNNING)
    errors = run.errors
    if status == RunStatus.FAILED:
        errors = [*errors, f"Dataflow job {run.job_id} ended {state} before the run recorded its end"]
    updated = replace(run, status=status, end_time=datetime.now(UTC), errors=errors)
    store.save_run(updated)
    store.release_lease(run.pipeline_id, run.run_id)  # a job that died before its commit released it
    return updated
