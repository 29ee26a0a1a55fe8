"""PipelineManager: lists pipelines, runs them locally, launches them on Dataflow, and reads run records."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import apache_beam as beam
import yaml
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.client.build import budget_share, build_client, client_limits
from beam_api_pipeline.client.limits import small_share_warning
from beam_api_pipeline.config import PipelineConfig, ServiceConfig, format_duration, resolve_config
from beam_api_pipeline.config.loading import is_inline
from beam_api_pipeline.config.references import literal_secrets
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.lease import LeaseKeeper
from beam_api_pipeline.control.runs import MAX_ERRORS_KEPT, PipelineRun, RunStatus, run_status
from beam_api_pipeline.control.store import WatermarkStore, open_store
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.logging_setup import set_log_context
from beam_api_pipeline.core.runner_profile import DATAFLOW_DEFAULT_MAX_WORKERS
from beam_api_pipeline.core.runners import create_runner, with_default_mode, with_project_prism
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.fetch.range_rules import range_paging
from beam_api_pipeline.gcp.dataflow import (
    DataflowClient,
    LaunchSettings,
    job_name,
    launch_body,
    service_labels,
)
from beam_api_pipeline.plan.run_plan import RunPlan, make_plan, make_streaming_plan, new_run_id, refuse_gap
from beam_api_pipeline.records.quality_rules import quality_outcomes
from beam_api_pipeline.run import progress
from beam_api_pipeline.run.alerts import RunFacts, job_url, report_facts, send_run_alert
from beam_api_pipeline.run.check import CheckLine, ConformanceCheck
from beam_api_pipeline.run.factory import PipelineFactory
from beam_api_pipeline.run.report import Distribution, PollFigures, RateUse, RunReport
from beam_api_pipeline.run.validate import check_config, config_problems, dataflow_args

logger = logging.getLogger(__name__)

_REPORTED_COUNTERS = (
    "pages",
    "requests",
    "retries",
    "rate_limited_429",
    "records_fetched",
    "records_outside_window",
    "records_invalid",
    "windows_not_filtered",
    "files_written",
    "dead_letter_files",
    "page_ranges",
    "split_parts",
    "deferred_remainders",
    "rate_limit_store_outages",
    "child_tasks_succeeded",
    "child_tasks_failed",
    "polls",
    "polls_skipped",
    "throttled_msecs",
    "fetch_msecs",
    "quality_rows_failed",
    "quality_windows_failed",
    "schema_rows_refused",
    "schema_values_discarded",
)


def _counters(result) -> dict[str, int]:
    """The run's `_REPORTED_COUNTERS`, and its quality checks' (`quality_*`) and endpoints' 429s
    (`rate_limited_429_*`) that counted something."""
    found = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE))["counters"]
    totals = dict.fromkeys(_REPORTED_COUNTERS, 0)
    for counter in found:
        name = counter.key.metric.name
        if name in totals or name.startswith(("quality_", metrics.RATE_LIMITED_OF)):
            totals[name] = totals.get(name, 0) + (counter.committed or 0)
    return totals


def _poll_figures(result) -> PollFigures:
    """A streaming run's `record_latency_ms`, `poll_write_latency_ms` and `records_per_poll`."""
    return PollFigures(
        _distribution(result, "record_latency_ms"),
        _distribution(result, "poll_write_latency_ms"),
        _distribution(result, "records_per_poll"),
    )


def _distribution(result, name: str) -> Distribution | None:
    """The run's distribution metric `name`, None when it has no value."""
    query = MetricsFilter().with_namespace(metrics.NAMESPACE).with_name(name)
    found = [entry.committed for entry in result.metrics().query(query)["distributions"] if entry.committed]
    count = sum(d.count for d in found)
    if not count:
        return None
    return Distribution(count, sum(d.sum for d in found), min(d.min for d in found), max(d.max for d in found))


def _achieved_rate(result) -> float | None:
    """Requests per second from the first request sent to the last (`metrics.REQUEST_SENT_MS`)."""
    sent = _distribution(result, "request_sent_ms")
    if sent is None or sent.count < 2:
        return None
    span_ms = sent.greatest - sent.least
    return (sent.count - 1) / (span_ms / 1000) if span_ms > 0 else None


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
    """Plan a run of `config` (which the caller has checked, `checks.check_config`) from the stored watermarks
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
    options = PipelineOptions([*with_default_mode(beam_args or [], walks_pages), *_label_args(service), *streaming])
    pipeline = beam.Pipeline(runner=create_runner(options), options=options)
    PipelineFactory(config, plan, job_alerts=job_alerts).build(pipeline)
    running = PipelineRun(plan.run_id, config.pipeline_id, RunStatus.RUNNING, plan.started_at)
    store.save_run(_with_service(running, service))
    set_log_context(pipeline_id=config.pipeline_id, run_id=plan.run_id)
    if plan.polls is None:
        logger.info("run %s: %d windows", plan.run_id, len(plan.tasks))
    else:
        logger.info("run %s: polls every %s", plan.run_id, format_duration(plan.polls.interval))
    return pipeline, plan


def _label_args(service: ServiceConfig) -> list[str]:
    """`--labels` options naming `service`, for runners that label their jobs (Dataflow)."""
    return [f"--labels={key}={value}" for key, value in service_labels(service).items()]


def _with_service(run: PipelineRun, service: ServiceConfig) -> PipelineRun:
    return replace(run, service_name=service.name, service_version=service.version)


def chosen_endpoints(config: PipelineConfig, endpoint: str | None) -> list[str]:
    """`[endpoint]` (`--endpoint`), or all of `config`'s endpoints (sorted) without one; an endpoint that is not
    in `config` is a ConfigError."""
    endpoints = sorted(config.api_config.endpoints)
    if endpoint is None:
        return endpoints
    if endpoint not in endpoints:
        raise ConfigError(
            f"--endpoint: {endpoint!r} is not an endpoint of {config.pipeline_id} ({', '.join(endpoints)})"
        )
    return [endpoint]


class PipelineManager:
    """The pipelines of a config store, and their runs. `sources` names the file each pipeline was loaded from
    (for messages); `service` is the environment file's, recorded with each run and labelling Dataflow jobs."""

    def __init__(
        self,
        configs: dict[str, PipelineConfig] | None = None,
        sources: dict[str, str] | None = None,
        service: ServiceConfig | None = None,
    ):
        self.pipelines = configs or {}
        self.sources = sources or {}
        self.service = service or ServiceConfig()

    def get_config(self, pipeline_id: str) -> PipelineConfig:
        if pipeline_id not in self.pipelines:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise ConfigError(f"pipeline_id: no pipeline {pipeline_id!r} in the config store (known: {known})")
        return self.pipelines[pipeline_id]

    def list_pipelines(self) -> list[dict[str, Any]]:
        """One summary per pipeline: id, description, enabled, extractor, outputs, watermarks, last run."""
        return [self.get_pipeline_status(pipeline_id) for pipeline_id in sorted(self.pipelines)]

    def get_pipeline_status(self, pipeline_id: str) -> dict[str, Any]:
        """A pipeline's summary with its stored watermarks and its last run's status."""
        config = self.get_config(pipeline_id)
        store = open_store(config.watermark_store)
        try:
            watermarks = {e: store.get_watermark(pipeline_id, e) for e in config.api_config.endpoints}
            runs = store.list_runs(pipeline_id)
        finally:
            store.close()
        return {
            "pipeline_id": pipeline_id,
            "description": config.description,
            "enabled": config.enabled,
            "extractor": config.extractor_class,
            "outputs": [o.type for o in config.output if o.enabled],
            "watermarks": {e: format_utc(w) if w else None for e, w in watermarks.items()},
            "last_run_id": runs[0].run_id if runs else None,
            "last_run_status": runs[0].status if runs else None,
        }

    def execute_pipeline(
        self,
        config: PipelineConfig,
        beam_args: list[str] | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        show_progress: bool = False,
        plan_run=None,
        run_id: str | None = None,
        *,
        backfill: bool = False,
        wait_for_lease: timedelta = timedelta(0),
    ) -> RunReport:
        """Run `config` and wait for it (DirectRunner by default); the run record says how it went.
        `plan_run(store)` may supply the RunPlan (a replay does). The run holds the pipeline's lease from before
        it plans until it ended (`watermark.lease`), waiting up to `wait_for_lease` for another run's."""
        if not config.enabled:
            raise ConfigError(f"enabled: pipeline {config.pipeline_id} is disabled")
        source = self.sources.get(config.pipeline_id)
        beam_args = with_project_prism(beam_args or [], config.streaming.enabled)
        check_config(config, source, beam_args)  # before the store is opened, which may be BigQuery's
        store = open_store(config.watermark_store)
        run_id = run_id or new_run_id(datetime.now(UTC))
        ttl = config.watermark_store.lease_ttl
        try:
            held = lease.take(store, config.pipeline_id, run_id, ttl, wait=wait_for_lease)
            with LeaseKeeper(partial(open_store, config.watermark_store), held, ttl) as keeper:
                report = self._run_holding_lease(
                    config, store, beam_args, start_time, end_time, show_progress, plan_run, run_id, backfill
                )
            return with_lost_lease(store, report, keeper.lost)
        finally:
            store.release_lease(config.pipeline_id, run_id)
            store.close()

    def _run_holding_lease(
        self,
        config: PipelineConfig,
        store: WatermarkStore,
        beam_args: list[str] | None,
        start_time: datetime | None,
        end_time: datetime | None,
        show_progress: bool,
        plan_run,
        run_id: str,
        backfill: bool,
    ) -> RunReport:
        """`execute_pipeline` once the run holds the lease."""
        plan = replace(plan_run(store), run_id=run_id) if plan_run else None
        pipeline, plan = prepare_run(
            config,
            store,
            beam_args,
            start_time,
            end_time,
            run_id=run_id,
            plan=plan,
            service=self.service,
            backfill=backfill,
        )
        if show_progress:
            progress.start(sum(task.parent is None for task in plan.tasks))
        try:
            result = pipeline.run()
            result.wait_until_finish()
        except Exception as error:
            message = store_safe_message(error)
            failed = PipelineRun(
                plan.run_id,
                config.pipeline_id,
                RunStatus.FAILED,
                plan.started_at,
                datetime.now(UTC),
                errors=[message],
            )
            store.save_run(failed)
            send_run_alert(config.alerts, RunFacts(failed), datetime.now(UTC))
            raise
        finally:
            progress.stop()
        run = store.get_run(plan.run_id)
        after = {endpoint: store.get_watermark(config.pipeline_id, endpoint) for endpoint in plan.watermarks_before}
        api = config.api_config
        rate = RateUse(api.rate_limit_mode, api.rate_limit, _achieved_rate(result))
        dead_letters = PipelineFactory.dead_letter_location(config)
        counters = _counters(result)
        quality = quality_outcomes(api.endpoints, counters)
        polls = _poll_figures(result) if plan.polls else None
        report = RunReport(plan, run, counters, after, rate, dead_letters, quality, polls)
        send_run_alert(config.alerts, report_facts(report), datetime.now(UTC))
        return report

    def check_sources(
        self, config: PipelineConfig, endpoint: str | None = None, max_records: int = 1000
    ) -> list[CheckLine]:
        """The conformance checks (`conformance`) of `config`'s endpoints (or of `endpoint`) against the live
        API; reads the stored watermarks, writes nothing."""
        chosen_endpoints(config, endpoint)
        resolved = resolve_config(config)
        client = build_client(resolved, client_limits(resolved, budget_share(resolved, 1)))
        store = open_store(config.watermark_store)
        try:
            stored = partial(store.get_watermark, config.pipeline_id)
            extractor_class = PipelineFactory.extractor_class(config)
            return ConformanceCheck(resolved, client, extractor_class, stored, max_records).run(endpoint)
        finally:
            store.close()
            client.close()

    def trigger_pipeline(
        self,
        config: PipelineConfig,
        settings: LaunchSettings,
        config_source: str,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        env_source: str | None = None,
        backfill: bool = False,
    ) -> PipelineRun:
        """Launch the Flex Template on Dataflow for `config` (the request `launch_request` makes, with a new run
        id) and record the run with its job id. The launch refuses a `start_time` after a stored watermark
        (unless `backfill`) and takes the pipeline's lease for the job's run id, for `job_lease_ttl`: the job
        takes it again under that id and its commit releases it (see docs/deploy.md); a failed launch releases
        it."""
        now = datetime.now(UTC)
        run_id = new_run_id(now)
        body = self.launch_request(
            config, settings, config_source, start_time, end_time, env_source, run_id, backfill=backfill
        )
        store = open_store(config.watermark_store)
        try:
            if not backfill:
                refuse_gap(
                    {e: store.get_watermark(config.pipeline_id, e) for e in config.api_config.endpoints},
                    start_time,
                    config.api_config.window_grid()[0],
                )
            lease.take(store, config.pipeline_id, run_id, config.watermark_store.job_lease_ttl)
        finally:
            store.close()
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
            _save_run(config, _with_service(failed, self.service))
            send_run_alert(config.alerts, RunFacts(failed), datetime.now(UTC))
            raise
        launched = PipelineRun(run_id, config.pipeline_id, RunStatus.LAUNCHED, now, job_id=job_id)
        run = _with_service(launched, self.service)
        _save_run(config, run)
        return run

    def launch_request(
        self,
        config: PipelineConfig,
        settings: LaunchSettings,
        config_source: str,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        env_source: str | None = None,
        run_id: str | None = None,
        *,
        backfill: bool = False,
    ) -> dict[str, Any]:
        """The flexTemplates.launch body for `config`, labelling the job with the service; ConfigError when
        `checks` refuse the config for Dataflow. Without `run_id` (a scheduled launch) the job makes its own
        and the job is named after the pipeline alone, so Dataflow refuses a launch while the last one runs.

        `config_source` is the config's `gs://` path, or a local file whose content is passed inline as JSON
        (then every secret in it must be a `${secret:...}` reference: job parameters are visible to anyone who
        can see the job). `env_source`, the environment file, is passed the same way."""
        source = self.sources.get(config.pipeline_id, config_source)
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
        return launch_body(job_name(config.pipeline_id, run_id), settings, parameters, service_labels(self.service))

    def get_run_status(
        self, run_id: str, config: PipelineConfig | None = None, dataflow: tuple[str, str] | None = None
    ) -> PipelineRun | None:
        """A run record; a launched run's status is refreshed from the Dataflow jobs API when `dataflow`
        gives its (project, region). A job that ended before it recorded its end (a crash, a cancel) is recorded
        as failed, and its alert sent."""
        configs = [config] if config else list(self.pipelines.values())
        for candidate in configs:
            store = open_store(candidate.watermark_store)
            try:
                run = store.get_run(run_id)
                if run is None:
                    continue
                if run.job_id and dataflow and run.status in (RunStatus.LAUNCHED, RunStatus.RUNNING):
                    run = _refresh_from_dataflow(run, store, *dataflow)
                    if run.status != RunStatus.RUNNING:
                        facts = RunFacts(run, job_url=job_url(*dataflow, run.job_id))
                        send_run_alert(candidate.alerts, facts, datetime.now(UTC))
                return run
            finally:
                store.close()
        return None

    def set_watermark(self, config: PipelineConfig, endpoint: str, to: datetime, reason: str | None = None) -> str:
        """Move `endpoint`'s stored watermark forward to `to` on purpose, skipping `[watermark, to)` unread, under
        the pipeline's lease; the move is recorded as a run record (status `watermark_set`, with a note). A
        watermark never moves back, nor into the future. The note, which is also returned."""
        chosen_endpoints(config, endpoint)
        now = datetime.now(UTC)
        if to > now:
            raise ConfigError(f"--to: {format_utc(to)} is in the future; a watermark says what has been read")
        run_id = new_run_id(now)
        store = open_store(config.watermark_store)
        try:
            lease.take(store, config.pipeline_id, run_id, config.watermark_store.lease_ttl)
            try:
                stored = store.get_watermark(config.pipeline_id, endpoint)
                if stored is not None and to <= stored:
                    raise ConfigError(
                        f"--to: {format_utc(to)} is not after the watermark of {endpoint}, {format_utc(stored)}; "
                        "a watermark never moves back: read a range again with run --start_time ... --backfill"
                    )
                skipped = f"[{format_utc(stored)}, {format_utc(to)})" if stored else f"before {format_utc(to)}"
                note = f"{endpoint}: watermark set to {format_utc(to)} by `watermark set`; {skipped} skipped unread"
                note += f" ({reason})" if reason else ""
                store.advance_watermark(config.pipeline_id, endpoint, to, run_id)
                record = PipelineRun(run_id, config.pipeline_id, RunStatus.WATERMARK_SET, now, now, note=note)
                store.save_run(_with_service(record, self.service))
            finally:
                store.release_lease(config.pipeline_id, run_id)
        finally:
            store.close()
        return note

    def list_runs(self, pipeline_id: str) -> list[PipelineRun]:
        """A pipeline's runs, newest first."""
        store = open_store(self.get_config(pipeline_id).watermark_store)
        try:
            return store.list_runs(pipeline_id)
        finally:
            store.close()


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


def with_lost_lease(store: WatermarkStore, report: RunReport, lost: lease.Lease | None) -> RunReport:
    """`report`, with the lease its LeaseKeeper found `lost` to another run recorded as an error of the run (in the
    store too) unless its commit recorded the loss already (`lease.LeaseLostError`)."""
    run = report.run
    if lost is None or run is None or any(error.startswith(lease.taken_by(lost)) for error in run.errors):
        return report
    run = replace(run, errors=[lease.lost_while_running(lost), *run.errors][:MAX_ERRORS_KEPT])
    store.save_run(run)
    return replace(report, run=run)


def release_lease(config: PipelineConfig, run_id: str) -> None:
    """Free `config`'s pipeline lease if `run_id` holds it."""
    store = open_store(config.watermark_store)
    try:
        store.release_lease(config.pipeline_id, run_id)
    finally:
        store.close()


def _save_run(config: PipelineConfig, run: PipelineRun) -> None:
    store = open_store(config.watermark_store)
    try:
        store.save_run(run)
    finally:
        store.close()


def store_safe_message(error: BaseException) -> str:
    """The first line of an error, for a run record."""
    return f"{type(error).__name__}: {error}".splitlines()[0]
