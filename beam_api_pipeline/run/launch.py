"""Launching a run on Dataflow (`launch`): the flexTemplates.launch request for a pipeline, and the launch itself,
which takes the pipeline's lease for the job and records the run with its job id."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import yaml

from beam_api_pipeline.client.build import DEFAULT_MAX_CONCURRENT_REQUESTS
from beam_api_pipeline.client.limits import in_flight_note, small_share_warning
from beam_api_pipeline.config import PipelineConfig, ServiceConfig
from beam_api_pipeline.config.loading import is_inline
from beam_api_pipeline.config.references import literal_secrets
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.runner_profile import DATAFLOW_DEFAULT_MAX_WORKERS
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.gcp.dataflow import DataflowClient, LaunchSettings, job_name, launch_body, service_labels
from beam_api_pipeline.plan.run_plan import new_run_id, refuse_gap
from beam_api_pipeline.run.alerts import RunFacts, send_run_alert
from beam_api_pipeline.run.run_records import release_lease, save_run, store_safe_message, with_service
from beam_api_pipeline.run.validate import config_problems, dataflow_args

logger = logging.getLogger(__name__)


def launch_job(
    config: PipelineConfig,
    settings: LaunchSettings,
    config_source: str,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    env_source: str | None = None,
    *,
    source: str | None = None,
    service: ServiceConfig | None = None,
    backfill: bool = False,
) -> PipelineRun:
    """Launch the Flex Template on Dataflow for `config` (the request `launch_request` makes, with a new run
    id) and record the run with its job id. The launch refuses a `start_time` after a stored watermark
    (unless `backfill`) and takes the pipeline's lease for the job's run id, for `job_lease_ttl`: the job
    takes it again under that id and its commit releases it (see docs/deploy.md); a failed launch releases
    it."""
    service = service or ServiceConfig()
    now = datetime.now(UTC)
    run_id = new_run_id(now)
    body = launch_request(
        config,
        settings,
        config_source,
        start_time,
        end_time,
        env_source,
        run_id,
        source=source,
        service=service,
        backfill=backfill,
    )
    with opened_store(config.watermark_store) as store:
        if not backfill:
            refuse_gap(
                {e: store.get_watermark(config.pipeline_id, e) for e in config.api_config.endpoints},
                start_time,
                config.api_config.window_grid()[0],
            )
        lease.take(store, config.pipeline_id, run_id, config.watermark_store.job_lease_ttl)
    try:
        job_id = DataflowClient(settings.project, settings.region).launch(body)
    except Exception as error:
        release_lease(config, run_id)
        failed = PipelineRun(
            run_id,
            config.pipeline_id,
            RunStatus.FAILED,
            now,
            datetime.now(UTC),
            errors=[f"the launch failed: {store_safe_message(error)}"],
        )
        save_run(config, with_service(failed, service))
        send_run_alert(config.alerts, RunFacts(failed), datetime.now(UTC))
        raise
    launched = with_service(PipelineRun(run_id, config.pipeline_id, RunStatus.LAUNCHED, now, job_id=job_id), service)
    save_run(config, launched)
    return launched


def launch_request(
    config: PipelineConfig,
    settings: LaunchSettings,
    config_source: str,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    env_source: str | None = None,
    run_id: str | None = None,
    *,
    source: str | None = None,
    service: ServiceConfig | None = None,
    backfill: bool = False,
) -> dict[str, Any]:
    """The flexTemplates.launch body for `config`, labelling the job with `service`; ConfigError when
    `validate` refuses the config for Dataflow (naming `source`, the file `config` was loaded from, by default
    `config_source`). Without `run_id` (a scheduled launch) the job makes its own and the job is named after the
    pipeline alone, so Dataflow refuses a launch while the last one runs.

    `config_source` is the config's `gs://` path, or a local file whose content is passed inline as JSON
    (then every secret in it must be a `${secret:...}` reference: job parameters are visible to anyone who
    can see the job). `env_source`, the environment file, is passed the same way."""
    source = source or config_source
    problems = config_problems(config, source, dataflow_args(settings.project))
    if not _passed_as_is(config_source):
        problems.extend(
            f"{source}: {path}: must be a ${{secret:...}} reference to pass the config inline; "
            "or upload the file to GCS and launch with its gs:// path"
            for path in literal_secrets(config)
        )
    if problems:
        raise ConfigError(problems)
    api = config.api_config
    workers = settings.max_workers or DATAFLOW_DEFAULT_MAX_WORKERS
    workers_from = "max_workers" if settings.max_workers else "max_workers unset: Dataflow's default"
    warning = small_share_warning(api.rate_limit_mode, api.rate_limit, workers, workers_from)
    if warning:
        logger.warning(warning)
    cap = api.max_concurrent_requests or DEFAULT_MAX_CONCURRENT_REQUESTS
    where = f"{workers_from}; a worker runs one per vCPU"
    note, above_cap = in_flight_note(api.rate_limit_mode, cap, workers, where)
    (logger.warning if above_cap else logger.info)(note)
    parameters = {"pipeline_config": _job_parameter(config_source)}
    if run_id:
        parameters["run_id"] = run_id
    if env_source:
        parameters["env_config"] = _job_parameter(env_source)
    if start_time:
        parameters["start_time"] = format_utc(start_time)
    if end_time:
        parameters["end_time"] = format_utc(end_time)
    if backfill:
        parameters["backfill"] = "true"
    elif config.streaming.enabled:
        parameters["streaming"] = "true"  # a streaming job (`options.streaming_flag`); a backfill is a batch job
    parameters.update(settings.extra_parameters)
    labels = service_labels(service or ServiceConfig())
    return launch_body(job_name(config.pipeline_id, run_id), settings, parameters, labels)


def _passed_as_is(source: str) -> bool:
    """Whether a job reads `source` itself (a gs:// path, or inline JSON already)."""
    return source.startswith("gs://") or is_inline(source)


def _job_parameter(source: str) -> str:
    """`source` as a template parameter: as it is when the job can read it, else the local file's content as
    inline JSON."""
    if _passed_as_is(source):
        return source
    with open(source, encoding="utf-8") as handle:
        return json.dumps(yaml.safe_load(handle), separators=(",", ":"), default=str)
