"""Alerts of Dataflow runs seen from this machine, against a local fake of the Dataflow API, the BigQuery
emulator (the control table) and a local webhook receiver: a launch Dataflow refuses, and a job that ends
failed before it recorded its end, each send one message; a second `status` sends none."""

from __future__ import annotations

import json

import pytest

from beam_api_pipeline.cli import main
from tests.fakes.dataflow_api import FakeDataflow
from tests.fakes.webhook import WebhookReceiver
from tests.support import write_yaml

pytestmark = pytest.mark.timeout(180)

HOOK_PATH = "/services/T0001/B0002/launch-hook-token"
REGION = ["--project", "proj", "--region", "europe-west1"]


@pytest.fixture
def launch_setup(control_table, tmp_path, monkeypatch):
    """(config path, webhook receiver, fake Dataflow) for a config fit for Dataflow whose alerts go to the
    receiver (the launch and `status` send them from here)."""
    with WebhookReceiver() as receiver, FakeDataflow() as dataflow:
        monkeypatch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        path = write_yaml(
            tmp_path / "pipeline.yaml",
            {
                "pipeline_id": "acme_items",
                "api_config": {"base_url": "https://api.example.com", "endpoints": {"items": {"path": "/items"}}},
                "output": [{"type": "gcs", "config": {"bucket": "acme-lake"}}],
                "dead_letter": {"path": "gs://acme-lake/dead_letter"},
                "watermark_store": {"type": "bigquery", "table": control_table},
                "alerts": {"webhook": receiver.at(HOOK_PATH)},  # a literal: the config goes by its gs:// path
            },
        )
        yield path, receiver, dataflow


def launch(path) -> int:
    template = ["--template_path", "gs://acme-lake/templates/api.json", "--max_workers", "10"]  # 10 in flight
    return main(["launch", "--config", str(path), *REGION, *template, "--config_gcs_path", "gs://acme-lake/p.yaml"])


def test_a_job_that_fails_before_recording_its_end_alerts_once_through_status(launch_setup, capsys):
    path, receiver, dataflow = launch_setup
    assert launch(path) == 0
    launched = json.loads(capsys.readouterr().out)
    status = ["status", launched["run_id"], "--config", str(path), *REGION]

    assert main(status) == 0  # still pending: nothing to say
    assert receiver.posts == []
    dataflow.job_states[launched["job_id"]] = "JOB_STATE_FAILED"
    assert main(status) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["status"] == "failed"
    assert main(status) == 0  # the end is recorded: no second message

    (message,) = receiver.messages
    url = f"https://console.cloud.google.com/dataflow/jobs/europe-west1/{launched['job_id']}?project=proj"
    assert (message["run_id"], message["conditions"], message["job_url"]) == (launched["run_id"], ["failure"], url)
    assert message["text"].splitlines() == [
        f"beam_api_pipeline acme_items, run {launched['run_id']} (failed): failure",
        "- failure: the run failed: Dataflow job "
        f"{launched['job_id']} ended JOB_STATE_FAILED before the run recorded its end",
        f"job: {url}",
    ]


def test_a_launch_dataflow_refuses_alerts_once_and_fails(launch_setup, capsys):
    path, receiver, dataflow = launch_setup
    dataflow.refuse_launches = True

    assert launch(path) == 1

    assert capsys.readouterr().err.startswith("error: launch failed: BadRequest: ")
    (message,) = receiver.messages
    assert message["conditions"] == ["failure"]
    failure = message["text"].splitlines()[1]
    assert failure.startswith("- failure: the run failed: the launch failed: BadRequest: ")
    assert "Invalid template file" in failure
    assert main(["runs", "--config", str(path)]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["run_id"], record["status"], record["job_id"]) == (message["run_id"], "failed", None)
