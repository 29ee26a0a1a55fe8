"""Fixtures for reliability tests: the sample API, a pipeline config for its /items endpoint, and a `run_pipeline`
helper that runs the command line and collects everything a user would look at afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control.store import opened_store
from sample_api import SampleApi
from tests.support import items_config, merged, read_jsonl, write_yaml


@dataclass(frozen=True)
class RunOutcome:
    """What a user sees after a run: exit code, report, rows written, dead letters, stored watermark, output
    and logs."""

    code: int
    report: dict[str, Any]
    rows: list[dict[str, Any]]
    dead: list[dict[str, Any]]
    watermark: datetime | None
    stdout: str
    stderr: str

    @property
    def ids(self) -> list[int]:
        """The ids written, sorted (duplicates kept, so that they show)."""
        return sorted(row["id"] for row in self.rows)


@pytest.fixture
def pipeline_file(tmp_path: Path, sample_api: SampleApi) -> Callable[..., Path]:
    """Writes a pipeline YAML reading /items by page number (10 a page, windows of a day from 2024-01-02),
    with `changes` merged in."""

    def write(**changes: Any) -> Path:
        base = items_config(sample_api.url, tmp_path, pipeline_id="faults")
        base["output"] = [{"type": "local", "config": {"path": str(tmp_path / "out")}}]
        return write_yaml(tmp_path / "pipeline.yaml", merged(base, changes))

    return write


@pytest.fixture
def run_pipeline(tmp_path: Path, capsys) -> Callable[..., RunOutcome]:
    """Runs `python -m beam_api_pipeline --log_level L run --config PATH --end_time END [extra]` in process."""

    def run(path: Path, end: str, *extra: str, log_level: str = "WARNING") -> RunOutcome:
        from beam_api_pipeline.cli import main

        report_path = tmp_path / "report.json"
        report_path.unlink(missing_ok=True)
        capsys.readouterr()
        command = ["run", "--config", str(path), "--end_time", end, "--report_json", str(report_path), *extra]
        code = main(["--log_level", log_level, *command])
        captured = capsys.readouterr()
        config = load_pipeline_config(path)
        with opened_store(config.watermark_store) as store:
            watermark = store.get_watermark(config.pipeline_id, "items")
        report = json.loads(report_path.read_text())
        return RunOutcome(
            code,
            report,
            read_jsonl(tmp_path / "out", recursive=True),
            read_jsonl(tmp_path / "dead_letter", recursive=True),
            watermark,
            captured.out,
            captured.err,
        )

    return run
