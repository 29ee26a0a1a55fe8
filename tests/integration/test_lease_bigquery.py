"""The pipeline lease in the BigQuery control store, against the BigQuery emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config.stores import BigQueryWatermarkStoreConfig
from beam_api_pipeline.control.bigquery import BigQueryWatermarkStore
from beam_api_pipeline.control.lease import LeaseHeldError, utc_now
from beam_api_pipeline.control.store import open_store
from tests.fakes.dataflow_api import FakeDataflow
from tests.lease_store_cases import (  # noqa: F401 - shared tests, run here with this module's store
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
from tests.support import t, write_yaml

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def new_store(control_table):
    return lambda: open_store(BigQueryWatermarkStoreConfig(table=control_table))


@pytest.fixture
def store(new_store) -> Iterator[BigQueryWatermarkStore]:
    opened = new_store()
    yield opened
    opened.close()


def test_the_lease_table_is_created_next_to_the_others(store, project, dataset, bq):
    table = bq.get_table(f"{project}.{dataset}.watermarks_leases")
    assert [(f.name, f.field_type, f.mode) for f in table.schema] == [
        ("pipeline_id", "STRING", "REQUIRED"),
        ("run_id", "STRING", "REQUIRED"),
        ("host", "STRING", "REQUIRED"),
        ("taken_at", "TIMESTAMP", "REQUIRED"),
        ("expires_at", "TIMESTAMP", "REQUIRED"),
    ]


def _launch_config(tmp_path, control_table):
    return write_yaml(
        tmp_path / "pipeline.yaml",
        {
            "pipeline_id": "acme_items",
            "api_config": {"base_url": "https://api.example.com", "endpoints": {"items": {"path": "/items"}}},
            "output": [{"type": "gcs", "config": {"bucket": "acme-lake"}}],
            "dead_letter": {"path": "gs://acme-lake/dead_letter"},
            "watermark_store": {"type": "bigquery", "table": control_table},
        },
    )


LAUNCH = ["--project", "proj", "--region", "europe-west1", "--template_path", "gs://acme-lake/templates/api.json"]
LAUNCH += ["--max_workers", "10"]  # 10 requests in flight at most, max_concurrent_requests: no warning


def test_launch_refuses_a_gap_and_a_held_lease_and_the_job_holds_the_lease_until_it_ends(
    store, project, dataset, tmp_path, monkeypatch, capsys
):
    control_table = f"{project}.{dataset}.watermarks"
    path = _launch_config(tmp_path, control_table)
    store.advance_watermark("acme_items", "items", t("2024-01-03"), "r0")
    with FakeDataflow() as dataflow:
        monkeypatch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        launch = ["launch", "--config", str(path), *LAUNCH]
        assert main([*launch, "--start_time", "2024-01-05"]) == 2
        assert capsys.readouterr().err.splitlines() == [
            "--start_time: 2024-01-05T00:00:00Z is after the watermark of items, 2024-01-03T00:00:00Z: "
            "[2024-01-03T00:00:00Z, 2024-01-05T00:00:00Z) would never be read. Read the range without moving the "
            "watermark with --backfill, or skip the gap on purpose with "
            "`watermark set --endpoint items --to 2024-01-05T00:00:00Z`"
        ]
        assert dataflow.requests == []

        assert main([*launch, "--start_time", "2024-01-05", "--end_time", "2024-01-06", "--backfill"]) == 0
        first = json.loads(capsys.readouterr().out)
        (request,) = dataflow.requests
        parameters = request["body"]["launchParameter"]["parameters"]
        assert (parameters["backfill"], parameters["run_id"]) == ("true", first["run_id"])
        held = store.get_lease("acme_items", utc_now())
        assert held.run_id == first["run_id"]
        assert held.expires_at - held.taken_at == timedelta(hours=24)  # job_lease_ttl: the job releases it

        assert main(launch) == 2
        assert capsys.readouterr().err.splitlines() == [LeaseHeldError(held).problems[0]]
        assert len(dataflow.requests) == 1

        dataflow.job_states[first["job_id"]] = "JOB_STATE_FAILED"  # died before its commit released the lease
        assert main(["status", first["run_id"], "--config", str(path), "--project", "proj", "--region", "x"]) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "failed"
        assert store.get_lease("acme_items", utc_now()) is None
        assert main(launch) == 0
    assert store.get_watermark("acme_items", "items") == t("2024-01-03")
