"""`launch` of a config fit for Dataflow, against a local fake of the Dataflow API and the BigQuery emulator (the
control table a launched run needs): the request carries the config and the environment file inline and the
service as job labels; the run record names the service and follows the job; a runs table made before the
service columns existed gets them and keeps its rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from beam_api_pipeline.cli import main
from beam_api_pipeline.config.stores import BigQueryWatermarkStoreConfig
from beam_api_pipeline.control.bigquery import RUN_FIELDS, create_control_tables
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.store import opened_store
from tests.fakes.dataflow_api import FakeDataflow
from tests.support import write_yaml

pytestmark = pytest.mark.timeout(180)


def test_launch_passes_config_and_env_inline_labels_the_job_and_records_the_service(
    control_table, tmp_path, monkeypatch, capsys
):
    path = write_yaml(
        tmp_path / "pipeline.yaml",
        {
            "pipeline_id": "acme_items",
            "api_config": {"base_url": "https://api.example.com", "endpoints": {"items": {"path": "/items"}}},
            "output": [{"type": "gcs", "config": {"bucket": "acme-lake"}}],
            "dead_letter": {"path": "gs://acme-lake/dead_letter"},
            "watermark_store": {"type": "bigquery", "table": control_table},
        },
    )
    env = write_yaml(tmp_path / "env.yaml", {"service": {"name": "Acme-ETL", "version": "2.1.0"}})
    with FakeDataflow() as dataflow:
        monkeypatch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        args = ["--config", str(path), "--env_config", str(env), "--project", "proj", "--region", "europe-west1"]
        launch = [*args, "--template_path", "gs://acme-lake/templates/api.json", "--end_time", "2024-01-05"]
        assert main(["launch", *launch, "--max_workers", "4", "--temp_location", "gs://acme-lake/tmp"]) == 0
        launched = json.loads(capsys.readouterr().out)
        (request,) = dataflow.requests
        assert request["path"] == "/v1b3/projects/proj/locations/europe-west1/flexTemplates:launch"
        parameter = request["body"]["launchParameter"]
        assert parameter["jobName"] == f"acme-items-{launched['run_id'].lower()}"
        assert parameter["environment"] == {
            "maxWorkers": 4,
            "tempLocation": "gs://acme-lake/tmp",
            "additionalUserLabels": {"service_name": "acme-etl", "service_version": "2_1_0"},
        }
        parameters = parameter["parameters"]
        assert set(parameters) == {"pipeline_config", "env_config", "run_id", "end_time"}
        assert json.loads(parameters["pipeline_config"]) == yaml.safe_load(path.read_text())
        assert json.loads(parameters["env_config"]) == yaml.safe_load(env.read_text())
        assert (parameters["run_id"], parameters["end_time"]) == (launched["run_id"], "2024-01-05T00:00:00Z")

        status = ["status", launched["run_id"], "--config", str(path)]
        assert main(status) == 0
        record = json.loads(capsys.readouterr().out)
        assert (record["status"], record["job_id"]) == ("launched", launched["job_id"])
        assert (record["service_name"], record["service_version"]) == ("Acme-ETL", "2.1.0")
        dataflow.job_states[launched["job_id"]] = "JOB_STATE_DONE"
        assert main([*status, "--project", "proj", "--region", "europe-west1"]) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "succeeded"

    assert main(["runs", "--config", str(path)]) == 0  # the finished job's status was saved, the service kept
    (saved,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (saved["status"], saved["service_name"], saved["service_version"]) == ("succeeded", "Acme-ETL", "2.1.0")


def test_a_runs_table_made_before_the_service_columns_gets_them_and_keeps_its_rows(project, dataset, bq):
    from google.cloud import bigquery

    control_table = f"{project}.{dataset}.watermarks"
    old_fields = [field for field in RUN_FIELDS if field[0] not in ("service_name", "service_version")]
    runs_table = control_table + "_runs"
    schema = [bigquery.SchemaField(name, kind, mode=mode) for name, kind, mode in old_fields]
    bq.create_table(bigquery.Table(runs_table, schema=schema))
    bq.query(
        f"INSERT INTO `{runs_table}` (run_id, pipeline_id, status, start_time, records_processed, errors, "
        "windows_done, windows_failed) VALUES ('20240102T000000Z-00000000', 'acme_items', 'succeeded', "
        "TIMESTAMP '2024-01-02 00:00:00+00', 48, [], 1, 0)"
    ).result()
    made = create_control_tables(control_table)  # `setup` after an upgrade
    assert made == [
        control_table,
        f"{control_table}_schema_versions",
        f"{control_table}_leases",
        f"{control_table}_validators",
    ]

    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as store:
        old = store.get_run("20240102T000000Z-00000000")
        assert (old.status, old.records_processed, old.service_name, old.service_version) == (
            RunStatus.SUCCEEDED,
            48,
            None,
            None,
        )
        started = datetime(2024, 1, 3, tzinfo=UTC)
        store.save_run(PipelineRun("r-2", "acme_items", RunStatus.RUNNING, started, service_name="acme-etl"))
        store.save_run(PipelineRun("r-2", "acme_items", RunStatus.SUCCEEDED, started, records_processed=5))
        new = store.get_run("r-2")
    assert (new.status, new.records_processed, new.service_name, new.service_version) == (
        RunStatus.SUCCEEDED,
        5,
        "acme-etl",
        None,
    )


@pytest.mark.parametrize(
    ("max_workers", "mode", "warning"),
    [
        (
            [],
            {},
            "rate_limit_mode share: each of 100 processes (max_workers unset: Dataflow's default) may send 0.1 "
            "requests/s, 1 % of rate_limit 10; give the number of workers the job needs (max_workers), or set "
            "rate_limit_mode: adaptive (the API's own limit is the budget) or shared (a Redis bucket for the whole "
            "job)",
        ),
        (["--max_workers", "5"], {}, None),
        ([], {"rate_limit_mode": "adaptive"}, None),
    ],
    ids=["share-default-workers", "share-five-workers", "adaptive"],
)
def test_launch_warns_when_a_process_s_share_is_under_a_tenth_of_the_rate_limit(
    control_table, tmp_path, monkeypatch, capsys, max_workers, mode, warning
):
    path = write_yaml(
        tmp_path / "pipeline.yaml",
        {
            "pipeline_id": "acme_items",
            "api_config": {
                "base_url": "https://api.example.com",
                "endpoints": {"items": {"path": "/items"}},
                "rate_limit": 10,
                **mode,
            },
            "output": [{"type": "gcs", "config": {"bucket": "acme-lake"}}],
            "dead_letter": {"path": "gs://acme-lake/dead_letter"},
            "watermark_store": {"type": "bigquery", "table": control_table},
        },
    )
    with FakeDataflow() as dataflow:
        monkeypatch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        launch = ["--config", str(path), "--project", "proj", "--region", "europe-west1"]
        launch += ["--template_path", "gs://acme-lake/templates/api.json", *max_workers]
        assert main(["launch", *launch]) == 0
        assert len(dataflow.requests) == 1  # a warning, not a refusal
    warnings = [line for line in capsys.readouterr().err.splitlines() if "rate_limit_mode share" in line]
    assert warnings == ([f"WARNING beam_api_pipeline.run.launch: {warning}"] if warning else [])
