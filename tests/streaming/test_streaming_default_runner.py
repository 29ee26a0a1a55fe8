"""`run` of a streaming config that names no runner: on the project's Prism when it is there (one log line says
so), else refused with exit 2 as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from beam_api_pipeline.cli import main
from beam_api_pipeline.core.windowing import format_utc
from tests.live_api import streaming_config
from tests.support import prism_location, write_yaml


def test_a_streaming_run_without_a_runner_runs_on_the_projects_prism(sample_api, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PRISM_LOCATION", prism_location())
    path = write_yaml(tmp_path / "polling.yaml", streaming_config(sample_api.url, tmp_path))
    end = format_utc(datetime.now(UTC) + timedelta(seconds=4))
    report = tmp_path / "report.json"
    assert main(["run", "--config", str(path), "--end_time", end, "--no_progress", "--report_json", str(report)]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "beam_api_pipeline" in line]
    assert lines[0] == (
        f"INFO beam_api_pipeline.core.runners: a streaming run and no --runner: running on Prism, {prism_location()} "
        "(give --runner to choose another)"
    )
    assert json.loads(report.read_text())["run"]["status"] == "succeeded"


def test_without_prism_it_is_refused_as_before(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PRISM_LOCATION", str(tmp_path / "no-prism"))
    monkeypatch.chdir(tmp_path)
    path = write_yaml(tmp_path / "polling.yaml", streaming_config("http://127.0.0.1:9", tmp_path))
    assert main(["run", "--config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{path}: streaming.enabled: needs --runner=PrismRunner (or DataflowRunner): Beam's local FnApiRunner "
        "runs no streaming pipeline"
    )
