"""The environment file's `service: {name, version}` names the deployment: in the User-Agent of every API request
(as the sample API's /echo/headers receives it over real HTTP), in the run records (SQLite here, including a
database made before the columns existed; BigQuery and the labels of a launched job in
tests/integration/test_trust_launch.py), and in the job labels of a run on Dataflow."""

from __future__ import annotations

import json
import sqlite3

import pytest
from apache_beam.options.pipeline_options import GoogleCloudOptions

from beam_api_pipeline import __version__
from beam_api_pipeline.cli import main
from beam_api_pipeline.client.api_client import ApiRequest
from beam_api_pipeline.client.build import build_client
from beam_api_pipeline.client.limits import RequestLimits
from beam_api_pipeline.config import ServiceConfig, load_pipeline_config, resolve_config
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.flex_template import launch as flex_template_entry
from beam_api_pipeline.gcp.dataflow import service_labels
from beam_api_pipeline.run.prepare import prepare_run
from tests.support import write_yaml

SERVICE = {"name": "acme-etl", "version": "2.1.0"}


def sent_user_agent(config, url: str) -> str:
    """The one User-Agent header the sample API receives from the client `build_client` makes of `config`."""
    client = build_client(resolve_config(config), RequestLimits(None, None))
    try:
        received = client.send(ApiRequest("GET", f"{url}/echo/headers")).body["headers"]
    finally:
        client.close()
    (agent,) = [value for name, value in received.items() if name.lower() == "user-agent"]
    return agent


@pytest.mark.parametrize(
    ("service", "headers", "expected"),
    [
        (SERVICE, {}, f"acme-etl/2.1.0 beam_api_pipeline/{__version__}"),
        ({"name": "acme-etl"}, {}, f"acme-etl beam_api_pipeline/{__version__}"),
        (None, {}, f"beam_api_pipeline/{__version__}"),
        (SERVICE, {"user-agent": "acme-bot/7"}, "acme-bot/7"),  # the pipeline's own header wins
    ],
)
def test_every_request_says_which_service_sends_it(sample_api, write_config, tmp_path, service, headers, expected):
    path, _ = write_config(api_config={"headers": headers})
    env = write_yaml(tmp_path / "env.yaml", {"service": service}) if service else None
    assert sent_user_agent(load_pipeline_config(path, env), sample_api.url) == expected


def run_with_the_cli(path, env) -> int:
    return main(["run", "--config", str(path), "--env_config", str(env), "--end_time", "2024-01-03"])


def run_as_the_flex_template_does(path, env) -> int:
    return flex_template_entry([f"--pipeline_config={path}", f"--env_config={env}", "--end_time=2024-01-03"])


@pytest.mark.parametrize("run", [run_with_the_cli, run_as_the_flex_template_does])
def test_a_run_records_the_service_and_its_status_as_the_stored_string(write_config, tmp_path, capsys, run):
    path, config = write_config()
    env = write_yaml(tmp_path / "env.yaml", {"service": SERVICE})
    assert run(path, env) == 0
    capsys.readouterr()
    assert main(["runs", "--config", str(path)]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["status"], record["service_name"], record["service_version"]) == ("succeeded", "acme-etl", "2.1.0")
    with sqlite3.connect(config.watermark_store.path) as db:
        assert db.execute("SELECT status, service_name, service_version FROM pipeline_runs").fetchall() == [
            ("succeeded", "acme-etl", "2.1.0")
        ]


OLD_RUNS_TABLE = """
CREATE TABLE pipeline_runs (
    run_id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL, status TEXT NOT NULL, start_time TEXT NOT NULL,
    end_time TEXT, records_processed INTEGER NOT NULL, errors TEXT NOT NULL, windows_done INTEGER NOT NULL,
    windows_failed INTEGER NOT NULL, job_id TEXT, endpoint_stats TEXT NOT NULL DEFAULT '{}',
    dead_letter_rows INTEGER NOT NULL DEFAULT 0
);
INSERT INTO pipeline_runs VALUES ('20240102T000000Z-00000000', 'sample_items', 'succeeded',
    '2024-01-02T00:00:00.000000Z', '2024-01-02T00:01:00.000000Z', 48, '[]', 1, 0, NULL, '{}', 0);
"""


def test_a_database_made_before_the_service_columns_keeps_working(write_config, tmp_path, capsys):
    path, config = write_config()
    database = config.watermark_store.path
    tmp_path.joinpath("state").mkdir()
    with sqlite3.connect(database) as db:
        db.executescript(OLD_RUNS_TABLE)
    env = write_yaml(tmp_path / "env.yaml", {"service": SERVICE})

    assert main(["run", "--config", str(path), "--env_config", str(env), "--end_time", "2024-01-03"]) == 0
    with opened_store(config.watermark_store) as store:
        new, old = store.list_runs("sample_items")
    assert (old.run_id, old.status, old.records_processed, old.service_name) == (
        "20240102T000000Z-00000000",
        "succeeded",
        48,
        None,
    )
    assert (new.status, new.service_name, new.service_version) == ("succeeded", "acme-etl", "2.1.0")


def test_a_service_name_that_cannot_be_a_user_agent_token_is_a_usage_error(write_config, tmp_path, capsys):
    path, _ = write_config()
    env = write_yaml(tmp_path / "env.yaml", {"service": {"name": "acme etl", "version": "2.1\n"}})
    assert main(["validate", "--config", str(path), "--env_config", str(env)]) == 2
    rule = "must start with a letter or digit and contain only letters, digits and . _ + -"
    assert capsys.readouterr().err.splitlines() == [f"{env}: service.name: {rule}", f"{env}: service.version: {rule}"]


def test_job_labels_follow_the_gcp_rules():
    service = ServiceConfig(name="ACME.Data-ETL_" + "x" * 60, version="2.1.0+build.7")
    assert service_labels(service) == {"service_name": "acme_data-etl_" + "x" * 49, "service_version": "2_1_0_build_7"}
    assert service_labels(ServiceConfig(version="1")) == {"service_version": "1"}
    assert service_labels(ServiceConfig()) == {}


def test_a_run_s_pipeline_carries_the_labels_for_dataflow(write_config):
    _, config = write_config()
    with opened_store(config.watermark_store) as store:
        args = ["--direct_running_mode=in_memory"]
        pipeline, _ = prepare_run(config, store, args, service=ServiceConfig(name="acme-etl", version="2.1.0"))
    assert pipeline.options.view_as(GoogleCloudOptions).labels == ["service_name=acme-etl", "service_version=2_1_0"]
