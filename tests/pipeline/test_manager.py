"""Pipelines and their runs through the command line: list, runs, status, and a launched run's status from (a local fake
of) Dataflow. Launching itself: tests/integration/test_trust_launch.py (its control table is BigQuery's) and
tests/pipeline/test_trust_dataflow.py (what launch refuses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from beam_api_pipeline.cli import main
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.store import opened_store
from tests.fakes.dataflow_api import FakeDataflow
from tests.pipeline.conftest import run_report
from tests.support import t


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


def test_status_follows_a_launched_run_s_dataflow_job(write_config, monkeypatch, capsys):
    path, config = write_config()
    with opened_store(config.watermark_store) as store:
        store.save_run(
            PipelineRun("20240105T000000Z-0a1b2c3d", "sample_items", RunStatus.LAUNCHED, t("2024-01-05"), job_id="j-1")
        )
    with FakeDataflow() as dataflow:
        monkeypatch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        args = ["status", "20240105T000000Z-0a1b2c3d", "--config", str(path), "--project", "proj", "--region", "r1"]
        dataflow.job_states["j-1"] = "JOB_STATE_RUNNING"
        assert main(args) == 0
        assert lines(capsys)[0]["status"] == "running"
        dataflow.job_states["j-1"] = "JOB_STATE_DONE"
        assert main(args) == 0
        assert lines(capsys)[0]["status"] == "succeeded"
        assert [request["path"] for request in dataflow.requests] == ["/v1b3/projects/proj/locations/r1/jobs/j-1"] * 2
    assert main(["status", "20240105T000000Z-0a1b2c3d", "--config", str(path)]) == 0
    assert lines(capsys)[0]["status"] == "succeeded"  # the finished job's status was saved
