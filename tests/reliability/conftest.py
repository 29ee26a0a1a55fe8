"""Fixtures for reliability tests: the sample API, a pipeline config for its /items endpoint, and a `run_pipeline`
helper that runs the command line and collects everything a user would look at afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.watermark.store import open_store
from sample_api import SampleApi


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, mappings key by key."""
    result = dict(base)
    for key, value in changes.items():
        both_dicts = isinstance(value, dict) and isinstance(result.get(key), dict)
        result[key] = merged(result[key], value) if both_dicts else value
    return result


def read_jsonl(folder: Path) -> list[dict[str, Any]]:
    """Every row of every finished `*.jsonl` file under `folder`."""
    return [json.loads(line) for path in sorted(folder.rglob("*.jsonl")) for line in path.read_text().splitlines()]


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
def sample_api() -> Iterator[SampleApi]:
    with SampleApi() as api:
        yield api


@pytest.fixture
def pipeline_file(tmp_path: Path, sample_api: SampleApi) -> Callable[..., Path]:
    """Writes a pipeline YAML reading /items by page number (10 a page, windows of a day from 2024-01-02),
    with `changes` merged in."""

    def write(**changes: Any) -> Path:
        base = {
            "pipeline_id": "faults",
            "api_config": {
                "base_url": sample_api.url,
                "timeout": 5,
                "endpoints": {"items": {"path": "/items", "records_path": "items", "primary_key": "id"}},
                "pagination": {"strategy": "page_number", "page_size": 10, "total_path": "total"},
                "retry": {"max_attempts": 6, "base_delay": 0.01, "max_delay": 0.05, "max_time": 30},
                "watermark": {
                    "enabled": True,
                    "timestamp_field": "updated_at",
                    "watermark_field": "since",
                    "window_end_field": "until",
                    "initial_watermark": "2024-01-02T00:00:00Z",
                    "window": {"window_size": "24h"},
                },
            },
            "output": [{"type": "local", "config": {"path": str(tmp_path / "out")}}],
            "dead_letter": {"path": str(tmp_path / "dead_letter")},
            "watermark_store": {"type": "local", "path": str(tmp_path / "state" / "control.db")},
        }
        path = tmp_path / "pipeline.yaml"
        path.write_text(yaml.safe_dump(merged(base, changes)))
        return path

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
        store = open_store(config.watermark_store)
        try:
            watermark = store.get_watermark(config.pipeline_id, "items")
        finally:
            store.close()
        report = json.loads(report_path.read_text())
        return RunOutcome(
            code,
            report,
            read_jsonl(tmp_path / "out"),
            read_jsonl(tmp_path / "dead_letter"),
            watermark,
            captured.out,
            captured.err,
        )

    return run
