"""A run on Dataflow is refused before anything is submitted when the job would need what only this machine or
a worker's own disk has: `validate`, `run` and the Flex Template entry with `--runner=DataflowRunner`, and
`launch` (against a local fake of Dataflow, which must see no request) all exit 2 with the same line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.flex_template import launch as flex_template_entry
from tests.fakes.dataflow_api import FakeDataflow
from tests.support import write_yaml

TOKEN = "${secret:projects/acme-data/secrets/acme-token}"
DATAFLOW = [
    "--runner=DataflowRunner",
    "--project=acme-data",
    "--region=europe-west1",
    "--temp_location=gs://acme-lake/tmp",
]
LAUNCH = ["--project", "acme-data", "--region", "europe-west1", "--template_path", "gs://acme-lake/templates/api.json"]
ON_DISKS = "on the Dataflow workers' disks, which are lost when the job ends"


def dataflow_config(folder: Path, token: str = TOKEN, **sections: Any) -> Path:
    """A config fit for Dataflow (BigQuery control table, GCS output and dead letter, a secret reference) with
    `sections` replacing its own (None: left out), written to `folder/pipeline.yaml`."""
    config = {
        "pipeline_id": "acme_items",
        "api_config": {
            "base_url": "https://api.example.com",
            "endpoints": {"items": {"path": "/items", "records_path": "items"}},
            "auth_config": {"auth_type": "bearer", "auth_credentials": {"token": token}},
        },
        "output": [{"type": "gcs", "config": {"bucket": "acme-lake", "prefix": "raw/{endpoint}/"}}],
        "dead_letter": {"path": "gs://acme-lake/dead_letter"},
        "watermark_store": {"type": "bigquery", "table": "acme-data.control.watermarks"},
    }
    config.update(sections)
    return write_yaml(folder / "pipeline.yaml", {key: value for key, value in config.items() if value is not None})


def refusals(path: Path, capsys, monkeypatch) -> list[tuple[int, list[str]]]:
    """(exit code, stderr lines) of `validate`, `run`, the Flex Template entry (all on Dataflow) and `launch`,
    after checking that the fake Dataflow received nothing."""
    outcomes = []
    monkeypatch.setenv("BEAM_API_PIPELINE_IMAGE", "europe-docker.pkg.dev/acme-data/r/api:1")  # as in the image
    for command in (
        lambda: main(["validate", "--config", str(path), *DATAFLOW]),
        lambda: main(["run", "--config", str(path), *DATAFLOW]),
        lambda: flex_template_entry([f"--pipeline_config={path}", *DATAFLOW]),
    ):
        outcomes.append((command(), capsys.readouterr().err.splitlines()))
    with FakeDataflow() as dataflow:
        monkeypatch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        outcomes.append((main(["launch", "--config", str(path), *LAUNCH]), capsys.readouterr().err.splitlines()))
        assert dataflow.requests == []
    return outcomes


CASES = [
    pytest.param(
        {"watermark_store": "local"},
        "watermark_store.type: local keeps watermarks in a SQLite file that the Dataflow workers cannot share; "
        "use watermark_store: {type: bigquery, table: project.dataset.table}",
        id="local-watermark-store",
    ),
    pytest.param(
        {"output": "local"},
        f"output.0.type: local writes files {ON_DISKS}; use type gcs or bigquery",
        id="local-output",
    ),
    pytest.param(
        {"dead_letter": "local"},
        f"dead_letter.path: a local folder is {ON_DISKS}; use a gs:// path or dead_letter: "
        "{table: project.dataset.table}",
        id="local-dead-letter",
    ),
    pytest.param(
        {"dead_letter": None},
        f"dead_letter: not set, so dead letters go to ./.state/dead_letter/acme_items, {ON_DISKS}; give "
        "dead_letter: {path: gs://bucket/prefix} or {table: project.dataset.table}",
        id="default-dead-letter",
    ),
    pytest.param(
        {"token": "${file:/run/secrets/acme-token}"},
        "api_config.auth_config.auth_credentials.token: ${file:...} is read on the Dataflow workers, which do not "
        "have this machine's files; use a ${secret:projects/P/secrets/S} reference, or the value itself",
        id="file-reference",
    ),
    pytest.param(
        {"alerts": {"webhook": "${env:ALERT_WEBHOOK}"}},
        "alerts.webhook: ${env:...} is read on the Dataflow workers, which do not have this machine's environment "
        "variables; use a ${secret:projects/P/secrets/S} reference, or the value itself",
        id="env-webhook",
    ),
    pytest.param(
        {"token": "${env:ACME_TOKEN}"},
        "api_config.auth_config.auth_credentials.token: ${env:...} is read on the Dataflow workers, which do not "
        "have this machine's environment variables; use a ${secret:projects/P/secrets/S} reference, or the value "
        "itself",
        id="env-reference",
    ),
    pytest.param(
        {
            "output": [
                {
                    "type": "bigquery",
                    "config": {"project": "acme-data", "dataset_id": "raw", "table_id": "items"}
                    | {"method": "storage_write_api", "schema": [{"name": "id", "type": "INTEGER"}]},
                }
            ]
        },
        "output.0.config.method: storage_write_api runs through Beam's Java expansion service, which the template's "
        "image lacks (no Java; the launcher would download it from Maven); use file_loads, or streaming_inserts for "
        "rows that show within seconds",
        id="storage-write-api",
    ),
]


def _sections(folder: Path, change: dict[str, Any]) -> dict[str, Any]:
    """The config sections a case changes, with its local paths under `folder`."""
    local = {
        "watermark_store": {"type": "local", "path": str(folder / "state" / "control.db")},
        "output": [{"type": "local", "config": {"path": str(folder / "out")}}],
        "dead_letter": {"path": str(folder / "dead_letter")},
    }
    return {key: local[key] if value == "local" else value for key, value in change.items()}


@pytest.mark.parametrize(("change", "problem"), CASES)
def test_each_command_refuses_what_dataflow_cannot_reach_before_submitting(
    tmp_path, capsys, monkeypatch, change, problem
):
    monkeypatch.setenv("ACME_TOKEN", "token-value-on-this-machine")
    path = dataflow_config(tmp_path, **_sections(tmp_path, change))

    assert refusals(path, capsys, monkeypatch) == [(2, [f"{path}: {problem}"])] * 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.yaml"]  # no store, no output, no dead letter


def test_a_config_fit_for_dataflow_validates_and_a_gs_path_is_fine_for_a_local_output(tmp_path, capsys):
    path = dataflow_config(tmp_path, output=[{"type": "local", "config": {"path": "gs://acme-lake/raw"}}])
    assert main(["validate", "--config", str(path), *DATAFLOW]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{path}: valid (pipeline acme_items, endpoints: items)"]


def test_launch_refuses_to_inline_a_config_with_a_literal_secret(tmp_path, capsys, monkeypatch):
    path = dataflow_config(tmp_path, token="plain-token-value")
    with FakeDataflow() as dataflow:
        monkeypatch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        assert main(["launch", "--config", str(path), *LAUNCH]) == 2
        assert dataflow.requests == []
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"{path}: api_config.auth_config.auth_credentials.token: must be a ${{secret:...}} reference to pass the "
        "config inline; or upload the file to GCS and launch with its gs:// path"
    ]
    assert "plain-token-value" not in err


def test_a_rate_limit_store_on_this_machine_is_refused_for_dataflow(tmp_path, capsys):
    api_config = {
        "base_url": "https://api.example.com",
        "endpoints": {"items": {"path": "/items", "records_path": "items"}},
        "rate_limit": 10,
        "rate_limit_mode": "shared",
        "rate_limit_store": "redis://127.0.0.1:6379/0",
    }
    path = dataflow_config(tmp_path, api_config=api_config)
    assert main(["validate", "--config", str(path), *DATAFLOW]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: api_config.rate_limit_store: a Redis on this machine is out of the Dataflow workers' reach; give "
        "the address of one they reach, such as a Memorystore instance in the job's network"
    ]
    assert main(["validate", "--config", str(path)]) == 0  # a local run may use it


def test_storage_write_api_is_refused_on_dataflow_only(tmp_path, capsys):
    (case,) = [case for case in CASES if case.id == "storage-write-api"]
    path = dataflow_config(tmp_path, **case.values[0])
    assert main(["validate", "--config", str(path)]) == 0  # a local run may try it (with Java on the machine)
    assert main(["validate", "--config", str(path), *DATAFLOW]) == 2
    assert capsys.readouterr().err.splitlines() == [f"{path}: {case.values[1]}"]
