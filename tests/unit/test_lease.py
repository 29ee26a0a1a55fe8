"""The pipeline lease on the local (SQLite) control store, and its keeper thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.config.options import read_template_run
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.lease import Lease, LeaseKeeper, utc_now
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.core.windowing import format_utc
from tests.lease_store_cases import (  # noqa: F401 - shared tests, run here with this module's store
    T0,
    TTL,
    Clock,
    take,
    test_a_free_lease_is_taken_and_held_until_the_ttl,
    test_a_held_lease_refuses_another_run_naming_the_holder,
    test_a_released_lease_is_free_and_only_its_holder_releases_it,
    test_a_renewal_keeps_the_start_and_moves_the_expiry,
    test_a_run_that_lost_its_lease_moves_no_watermark_and_names_the_holder,
    test_a_run_waits_for_the_lease_until_it_is_released,
    test_a_run_whose_expired_lease_nobody_took_takes_it_again_and_moves_its_watermarks,
    test_an_expired_lease_is_taken_over,
    test_the_holder_moves_its_watermarks_and_renews_its_lease,
    test_two_runs_racing_for_a_free_lease_one_wins,
)
from tests.support import items_config, write_yaml


@pytest.fixture
def new_store(tmp_path: Path):
    return lambda: LocalWatermarkStore(tmp_path / "c.db")


@pytest.fixture
def store(new_store) -> Iterator[LocalWatermarkStore]:
    opened = new_store()
    yield opened
    opened.close()


def test_the_keeper_renews_the_lease_and_reports_a_lost_one(store, new_store):
    clock = Clock()
    held = take(store, "r1", clock)
    keeper = LeaseKeeper(new_store, held, TTL, clock)
    clock.moment = T0 + timedelta(minutes=3)
    assert keeper.renew_once().expires_at == T0 + timedelta(minutes=8)
    clock.moment = T0 + timedelta(minutes=8)  # the keeper stopped renewing: the lease expired and r2 takes it
    take(store, "r2", clock)
    assert keeper.lost is None
    assert keeper.renew_once().run_id == "r2"
    assert keeper.lost == store.get_lease("p", clock.moment)
    assert store.get_lease("p", clock.moment).run_id == "r2"


def test_the_keeper_thread_renews_every_third_of_the_ttl_until_stopped(store, new_store):
    ttl = timedelta(milliseconds=30)
    held = lease.take(store, "p", "r1", ttl, clock=Clock(), host="h")
    renewed = threading.Event()
    clock = Clock(T0 + timedelta(hours=1))

    def open_store():
        renewed.set()
        return new_store()

    with LeaseKeeper(open_store, held, ttl, clock):
        assert renewed.wait(5)
    assert store.get_lease("p", clock.moment) == Lease("p", "r1", "h", T0, T0 + timedelta(hours=1) + ttl)


def test_the_watermark_table_parameter_keeps_the_lease_settings(tmp_path):
    config = items_config("http://127.0.0.1:9", tmp_path, watermark_store={"type": "local", "lease_ttl": "90s"})
    path = write_yaml(tmp_path / "p.yaml", config)
    options = PipelineOptions([f"--pipeline_config={path}", "--watermark_table=my-project.control.watermarks"])
    store = read_template_run(options).config.watermark_store
    assert (store.type, store.table, store.lease_ttl, store.job_lease_ttl) == (
        "bigquery",
        "my-project.control.watermarks",
        timedelta(seconds=90),
        timedelta(hours=24),
    )


def test_a_dataflow_jobs_commit_renews_then_releases_its_lease_a_poll_keeps_it_and_a_lost_one_moves_nothing(
    store, tmp_path, caplog
):
    from beam_api_pipeline.config import PipelineConfig
    from beam_api_pipeline.plan.run_plan import RunPlan
    from beam_api_pipeline.run.commit import _CommitFn, _CommitPollFn

    config = PipelineConfig.model_validate(items_config("http://127.0.0.1:9", tmp_path))
    plan = RunPlan("r1", "p", T0, [], job_holds_lease=True)
    lease.take(store, "p", "r1", TTL, clock=Clock(), host="h")

    assert _CommitPollFn(config, plan, None, {})._advance_holding_lease(store, plan, {"items": T0, "b": None}) is None
    renewed = store.get_lease("p", utc_now())
    assert (renewed.run_id, renewed.taken_at, renewed.expires_at - utc_now() > timedelta(hours=23)) == ("r1", T0, True)
    assert store.get_watermark("p", "items") == T0
    _CommitPollFn(config, plan, None, {})._hold_lease(store, plan)
    assert store.get_lease("p", utc_now()).run_id == "r1"

    _CommitFn(config, plan, None, {})._hold_lease(store, plan)
    assert store.get_lease("p", T0) is None

    taken = lease.take(store, "p", "r2", timedelta(hours=48), host="h2")
    lost = _CommitFn(config, plan, None, {})._advance_holding_lease(store, plan, {"items": T0 + TTL})
    assert (lost.holder, store.get_watermark("p", "items")) == (taken, T0)
    assert (
        f"run r1: the lease of pipeline p was taken by run r2 on h2 since {format_utc(taken.taken_at)}" in caplog.text
    )


def test_a_lease_the_keeper_lost_is_an_error_of_the_run_unless_its_commit_recorded_it(store, tmp_path):
    from beam_api_pipeline.control.runs import PipelineRun, RunStatus
    from beam_api_pipeline.plan.run_plan import RunPlan
    from beam_api_pipeline.run.local_run import with_lost_lease
    from beam_api_pipeline.run.report import RateUse, RunReport

    lost = Lease("p", "r2", "host-b pid 2", T0 + TTL, T0 + 2 * TTL)
    run = PipelineRun("r1", "p", RunStatus.SUCCEEDED, T0, T0 + 2 * TTL, errors=["items [w]: 500"])
    report = RunReport(RunPlan("r1", "p", T0, []), run, {}, {}, RateUse("adaptive", None, None))
    assert with_lost_lease(store, report, None) is report

    recorded = with_lost_lease(store, report, lost).run
    assert recorded.errors == [
        "the lease of pipeline p was taken by run r2 on host-b pid 2 since 2024-01-01T12:05:00Z while this run was "
        "writing (it was not renewed within lease_ttl); the lease was free again at the commit, which moved the "
        "watermarks: rows both runs wrote may be written twice",
        "items [w]: 500",
    ]
    assert (recorded.status, store.get_run("r1")) == (RunStatus.SUCCEEDED, recorded)

    committed = replace(run, status=RunStatus.FAILED, errors=[str(lease.LeaseLostError(lost))])
    assert with_lost_lease(store, replace(report, run=committed), lost).run == committed
