"""PipelineManager through the command line: list, runs, status, launch on (a local fake of) Dataflow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from beam_api_pipeline.cli import main
from tests.fakes.dataflow_api import FakeDataflow
from tests.pipeline.conftest import run_report


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def config_dir(write_config, tmp_path) -> Path:
    """A config store with two pipelines: the sample one and a disabled copy."""
    path, _ = write_config(description="Sample items")
    folder = tmp_path / "configs"
    folder.mkdir()
    shutil.copy(path, folder / "sample_items.yaml")
    other = yaml.safe_load(path.read_text())
    other.update(pipeline_id="other_items", enabled=False, description="Disabled copy")
    (folder / "other_items.yml").write_text(yaml.safe_dump(other))
    return folder


def test_list_shows_each_pipeline_with_its_watermark_and_last_run(config_dir, tmp_path, capsys):
    assert main(["list", "--config_dir", str(config_dir), "--json"]) == 0
    before = lines(capsys)
    assert [(p["pipeline_id"], p["enabled"], p["last_run_status"]) for p in before] == [
        ("other_items", False, None),
        ("sample_items", True, None),
    ]
    code, report = run_report(
        tmp_path, "--config_dir", str(config_dir), "--pipeline_id", "sample_items", "--end_time", "2024-01-03"
    )
    assert code == 0
    capsys.readouterr()
    assert main(["list", "--config_dir", str(config_dir), "--json"]) == 0
    sample = lines(capsys)[1]
    assert sample == {
        "pipeline_id": "sample_items",
        "description": "Sample items",
        "enabled": True,
        "extractor": "rest",
        "outputs": ["local"],
        "watermarks": {"items": "2024-01-03T00:00:00Z"},
        "last_run_id": report["run"]["run_id"],
        "last_run_status": "succeeded",
    }


def test_a_disabled_pipeline_is_listed_but_never_run(config_dir, capsys):
    code = main(["run", "--config_dir", str(config_dir), "--pipeline_id", "other_items"])
    assert code == 2
    assert capsys.readouterr().err.strip() == "enabled: pipeline other_items is disabled"


def test_a_config_store_reports_every_bad_file(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.yaml").write_text("pipeline_id: A\n")
    (folder / "b.yaml").write_text("pipeline_id: b\napi_config: {base_url: http://x, endpoints: {e: {path: /e}}}\n")
    assert main(["list", "--config_dir", str(folder)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{folder / 'a.yaml'}: pipeline_id: must start with a lowercase letter and contain only a-z, 0-9 and _",
        f"{folder / 'a.yaml'}: api_config: required",
    ]


def test_status_and_runs_read_the_run_records(write_config, tmp_path, capsys):
    path, _ = write_config()
    _, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04")
    run_id = report["run"]["run_id"]
    capsys.readouterr()
    assert main(["status", run_id, "--config", str(path)]) == 0
    status = lines(capsys)[0]
    assert (status["run_id"], status["status"], status["records_processed"]) == (run_id, "succeeded", 96)
    assert status["records_processed"] == sum(1 for f in (tmp_path / "out").glob("*.jsonl") for _ in f.open())
    assert main(["runs", "--config", str(path)]) == 0
    assert [r["run_id"] for r in lines(capsys)] == [run_id]
    assert main(["status", "nope", "--config", str(path)]) == 1


def test_launch_posts_the_flex_template_request_and_status_follows_the_job(write_config, monkeypatch, capsys):
    path, _ = write_config()
    with FakeDataflow() as dataflow:
        monkeypatch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        args = ["--config", str(path), "--project", "proj", "--region", "europe-west1"]
        code = main(
            [
                "launch",
                *args,
                "--template_path",
                "gs://bucket/templates/api.json",
                "--end_time",
                "2024-01-05",
                "--max_workers",
                "4",
                "--temp_location",
                "gs://bucket/tmp",
            ]
        )
        assert code == 0, capsys.readouterr().err
        launched = lines(capsys)[0]
        request = dataflow.requests[0]
        assert request["path"] == "/v1b3/projects/proj/locations/europe-west1/flexTemplates:launch"
        parameter = request["body"]["launchParameter"]
        assert parameter["containerSpecGcsPath"] == "gs://bucket/templates/api.json"
        assert parameter["environment"] == {"maxWorkers": 4, "tempLocation": "gs://bucket/tmp"}
        assert parameter["jobName"] == f"sample-items-{launched['run_id'].lower()}"
        assert parameter["parameters"]["run_id"] == launched["run_id"]
        assert parameter["parameters"]["end_time"] == "2024-01-05T00:00:00Z"
        assert json.loads(parameter["parameters"]["pipeline_config"]) == yaml.safe_load(path.read_text())
        assert launched["job_id"] == "2026-01-01_00_00_00-1"

        status_args = ["status", launched["run_id"], *args]
        assert main(status_args) == 0
        assert lines(capsys)[0]["status"] == "running"
        dataflow.job_states[launched["job_id"]] = "JOB_STATE_DONE"
        assert main(status_args) == 0
        assert lines(capsys)[0]["status"] == "succeeded"
        assert dataflow.requests[-1]["path"] == f"/v1b3/projects/proj/locations/europe-west1/jobs/{launched['job_id']}"


def test_launch_refuses_to_inline_a_config_with_a_literal_secret(write_config, capsys):
    path, _ = write_config(
        api_config={"auth_config": {"auth_type": "bearer", "auth_credentials": {"token": "plain-token-value"}}}
    )
    args = ["--project", "p", "--region", "r", "--template_path", "gs://b/t.json"]
    assert main(["launch", "--config", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"{path}: api_config.auth_config.auth_credentials.token: must be a ${{secret:...}} or ${{env:...}} "
        "reference to pass the config inline; or upload the file to GCS and launch with its gs:// path"
    )
    assert "plain-token-value" not in err
