"""Least privilege that works: a run whose account may not create datasets (the BigQuery emulator behind
`ForbiddingBigQueryProxy`, which answers dataset creation with 403 as BigQuery does for dataset-level roles)
stops with one line naming the missing control table and `setup` until an admin ran `setup`, and then runs,
getting each control table once and creating nothing."""

from __future__ import annotations

import os
import uuid

import pytest
from google.api_core.exceptions import Forbidden

from beam_api_pipeline.cli import main
from beam_api_pipeline.config.stores import BigQueryWatermarkStoreConfig
from beam_api_pipeline.control import bigquery as control_bigquery
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.gcp.clients import BIGQUERY_HOST_VARIABLE, bigquery_client
from tests.fakes.bigquery_proxy import ForbiddingBigQueryProxy
from tests.support import t

pytestmark = pytest.mark.timeout(300)

SA = "beam-api-pipeline@test-project.iam.gserviceaccount.com"
TOKEN = "${secret:projects/acme-data/secrets/acme-token/versions/latest}"


@pytest.fixture
def fresh_dataset(bq):
    """The name of a dataset nobody made yet (dropped after the test, once `setup` made it)."""
    name = f"ctl_{uuid.uuid4().hex[:10]}"
    yield name
    bq.delete_dataset(name, delete_contents=True, not_found_ok=True)


@pytest.fixture
def proxy(monkeypatch):
    """The proxy in front of the emulator, the BigQuery clients made from now on pointed at it."""
    with ForbiddingBigQueryProxy(os.environ[BIGQUERY_HOST_VARIABLE]) as forbidding:
        yield forbidding


def test_a_run_without_dataset_rights_needs_setup_then_runs_creating_nothing(
    sample_api, write_config, tmp_path, project, fresh_dataset, proxy, beam_args, monkeypatch, capsys
):
    table = f"{project}.{fresh_dataset}.watermarks"
    output = [{"type": "gcs", "config": {"bucket": "acme-lake", "prefix": "raw/"}}]
    auth = {"auth_type": "bearer", "auth_credentials": {"token": TOKEN}}
    setup_path, _ = write_config(  # the Dataflow form, whose bindings setup prints
        watermark_store={"type": "bigquery", "table": table},
        output=output,
        dead_letter={"path": "gs://acme-dl/items"},
        api_config={"auth_config": auth},
    )
    setup_path = setup_path.rename(tmp_path / "dataflow.yaml")
    path, config = write_config(watermark_store={"type": "bigquery", "table": table})  # a local run of it
    admin_host = os.environ[BIGQUERY_HOST_VARIABLE]
    monkeypatch.setenv(BIGQUERY_HOST_VARIABLE, proxy.url.removeprefix("http://"))
    with pytest.raises(Forbidden, match=r"User does not have bigquery\.datasets\.create permission"):
        bigquery_client(project).create_dataset(f"{project}.{fresh_dataset}", exists_ok=True)  # what runs did
    run = ["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z", *beam_args]

    assert main(run) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"watermark_store.table: the control table {table} does not exist; create the control tables once with "
        "`python -m beam_api_pipeline setup --config FILE` (or make setup CONFIG=FILE), as an account that may "
        "create BigQuery datasets; docs/deploy.md, The service account and its roles"
    ]

    with monkeypatch.context() as admin:
        admin.setenv(BIGQUERY_HOST_VARIABLE, admin_host)
        assert main(["setup", "--config", str(setup_path), "--temp_location", "gs://acme-tmp/t"]) == 0
    member = f'--member "serviceAccount:{SA}"'
    dataset = f"{project}:{fresh_dataset}"
    assert capsys.readouterr().out.splitlines() == [
        f"control tables: created {table}, {table}_runs, {table}_schema_versions, {table}_leases, {table}_validators",
        f"IAM bindings for the job's service account {SA}:",
        f"  roles/dataflow.worker               project {project}: run the launcher VM and the workers",
        f"  roles/bigquery.jobUser              project {project}: queries on the control tables, load jobs, MERGE",
        f"  roles/bigquery.dataEditor           dataset {dataset}: read and write the control tables (watermarks, "
        "runs, schema versions, leases, validators)",
        "  roles/storage.objectAdmin           bucket gs://acme-lake: output.0: write files",
        "  roles/storage.objectAdmin           bucket gs://acme-dl: dead_letter: write files",
        "  roles/storage.objectAdmin           bucket gs://acme-tmp: temp and staging files",
        "  roles/secretmanager.secretAccessor  secret projects/acme-data/secrets/acme-token: resolve it on the workers",
        "to grant them:",
        f"  gcloud projects add-iam-policy-binding {project} {member} --role roles/dataflow.worker",
        f"  gcloud projects add-iam-policy-binding {project} {member} --role roles/bigquery.jobUser",
        f"  bq add-iam-policy-binding {member} --role roles/bigquery.dataEditor {dataset}",
        f"  gcloud storage buckets add-iam-policy-binding gs://acme-lake {member} --role roles/storage.objectAdmin",
        f"  gcloud storage buckets add-iam-policy-binding gs://acme-dl {member} --role roles/storage.objectAdmin",
        f"  gcloud storage buckets add-iam-policy-binding gs://acme-tmp {member} --role roles/storage.objectAdmin",
        f"  gcloud secrets add-iam-policy-binding acme-token --project acme-data {member} "
        "--role roles/secretmanager.secretAccessor",
    ]

    monkeypatch.setattr(control_bigquery, "_PRESENT", set())  # as a new process: setup ran in this one
    proxy.requests.clear()
    assert main(run) == 0, capsys.readouterr().err
    with opened_store(BigQueryWatermarkStoreConfig(table=table)) as store:
        assert store.get_watermark(config.pipeline_id, "items") == t("2024-01-04")
    metadata = [(method, p) for method, p in proxy.requests if "/queries" not in p and "/jobs" not in p]
    tables = f"/bigquery/v2/projects/{project}/datasets/{fresh_dataset}/tables"
    assert metadata == [
        ("GET", f"{tables}/watermarks"),
        ("GET", f"{tables}/watermarks_runs"),
        ("GET", f"{tables}/watermarks_schema_versions"),
        ("GET", f"{tables}/watermarks_leases"),
        ("GET", f"{tables}/watermarks_validators"),
    ]  # once for the whole run (planning, lease, commit, run records), and no creation
