"""Run records written outside a pipeline (a run that failed to start, a launch, a watermark moved by hand): the
service a record names, the one error line it keeps, and saving it or freeing its lease on the pipeline's
control store."""

from __future__ import annotations

from dataclasses import replace

from beam_api_pipeline.config import PipelineConfig, ServiceConfig
from beam_api_pipeline.control.runs import PipelineRun
from beam_api_pipeline.control.store import opened_store


def with_service(run: PipelineRun, service: ServiceConfig) -> PipelineRun:
    """`run` naming `service` (the environment file's) and its version."""
    return replace(run, service_name=service.name, service_version=service.version)


def store_safe_message(error: BaseException) -> str:
    """The first line of an error, for a run record."""
    return f"{type(error).__name__}: {error}".splitlines()[0]


def save_run(config: PipelineConfig, run: PipelineRun) -> None:
    """Save `run` in `config`'s control store."""
    with opened_store(config.watermark_store) as store:
        store.save_run(run)


def release_lease(config: PipelineConfig, run_id: str) -> None:
    """Free `config`'s pipeline lease if `run_id` holds it."""
    with opened_store(config.watermark_store) as store:
        store.release_lease(config.pipeline_id, run_id)
