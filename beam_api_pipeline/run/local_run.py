"""A run on this machine (`run`, `replay`, the Flex Template entry off Dataflow): checked, under the pipeline's
lease from before it plans until it ended, waited for, and reported; its alert sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from beam_api_pipeline.config import PipelineConfig, ServiceConfig
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.lease import LeaseKeeper
from beam_api_pipeline.control.runs import MAX_ERRORS_KEPT, PipelineRun, RunStatus
from beam_api_pipeline.control.store import WatermarkStore, open_store, opened_store
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.runners import with_project_prism
from beam_api_pipeline.plan.run_plan import new_run_id
from beam_api_pipeline.records.quality_rules import quality_outcomes
from beam_api_pipeline.run import progress, result_metrics
from beam_api_pipeline.run.alerts import RunFacts, report_facts, send_run_alert
from beam_api_pipeline.run.factory import PipelineFactory
from beam_api_pipeline.run.prepare import prepare_run
from beam_api_pipeline.run.report import RateUse, RunReport
from beam_api_pipeline.run.run_records import store_safe_message
from beam_api_pipeline.run.validate import check_config


def run_locally(
    config: PipelineConfig,
    beam_args: list[str] | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    show_progress: bool = False,
    plan_run=None,
    run_id: str | None = None,
    *,
    source: str | None = None,
    service: ServiceConfig | None = None,
    backfill: bool = False,
    wait_for_lease: timedelta = timedelta(0),
    estimate: dict[str, dict[str, float]] | None = None,
) -> RunReport:
    """Run `config` (loaded from `source`, named in messages) and wait for it (DirectRunner by default); the run
    record says how it went, and names `service`. `plan_run(store)` may supply the RunPlan (a replay does). The
    run holds the pipeline's lease from before it plans until it ended (`control.lease`), waiting up to
    `wait_for_lease` for another run's. `estimate` (a plan's `estimate_stats`) is kept in the run record beside
    what the run did."""
    if not config.enabled:
        raise ConfigError(f"enabled: pipeline {config.pipeline_id} is disabled")
    beam_args = with_project_prism(beam_args or [], config.streaming.enabled)
    check_config(config, source, beam_args)  # before the store is opened, which may be BigQuery's
    run_id = run_id or new_run_id(datetime.now(UTC))
    ttl = config.watermark_store.lease_ttl
    with opened_store(config.watermark_store) as store:
        try:
            held = lease.take(store, config.pipeline_id, run_id, ttl, wait=wait_for_lease)
            with LeaseKeeper(partial(open_store, config.watermark_store), held, ttl) as keeper:
                report = _run_holding_lease(
                    config, store, beam_args, start_time, end_time, show_progress, plan_run, run_id, backfill, service
                )
            return with_estimate(store, with_lost_lease(store, report, keeper.lost), estimate)
        finally:
            store.release_lease(config.pipeline_id, run_id)


def _run_holding_lease(
    config: PipelineConfig,
    store: WatermarkStore,
    beam_args: list[str] | None,
    start_time: datetime | None,
    end_time: datetime | None,
    show_progress: bool,
    plan_run,
    run_id: str,
    backfill: bool,
    service: ServiceConfig | None,
) -> RunReport:
    """`run_locally` once the run holds the lease."""
    plan = replace(plan_run(store), run_id=run_id) if plan_run else None
    pipeline, plan = prepare_run(
        config,
        store,
        beam_args,
        start_time,
        end_time,
        run_id=run_id,
        plan=plan,
        service=service,
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
    rate = RateUse(api.rate_limit_mode, api.rate_limit, result_metrics.achieved_rate(result))
    dead_letters = PipelineFactory.dead_letter_location(config)
    counters = result_metrics.counters(result)
    quality = quality_outcomes(api.endpoints, counters)
    polls = result_metrics.poll_figures(result) if plan.polls else None
    report = RunReport(plan, run, counters, after, rate, dead_letters, quality, polls)
    send_run_alert(config.alerts, report_facts(report), datetime.now(UTC))
    return report


def with_lost_lease(store: WatermarkStore, report: RunReport, lost: lease.Lease | None) -> RunReport:
    """`report`, with the lease its LeaseKeeper found `lost` to another run recorded as an error of the run (in the
    store too) unless its commit recorded the loss already (`lease.LeaseLostError`)."""
    run = report.run
    if lost is None or run is None or any(error.startswith(lease.taken_by(lost)) for error in run.errors):
        return report
    run = replace(run, errors=[lease.lost_while_running(lost), *run.errors][:MAX_ERRORS_KEPT])
    store.save_run(run)
    return replace(report, run=run)


def with_estimate(store: WatermarkStore, report: RunReport, estimate: dict[str, dict[str, float]] | None) -> RunReport:
    """`report`, with a plan's `estimate` of each endpoint added to its stats in the run record (in the store too),
    so that `runs` shows them beside what the run did."""
    run = report.run
    if not estimate or run is None:
        return report
    stats = {endpoint: {**figures, **estimate.get(endpoint, {})} for endpoint, figures in run.endpoint_stats.items()}
    run = replace(run, endpoint_stats=stats)
    store.save_run(run)
    return replace(report, run=run)
