"""Fixtures for pipeline tests: the sample API on 127.0.0.1 and configs written to real files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from beam_api_pipeline.config import PipelineConfig, load_pipeline_config
from sample_api import SampleApi
from tests.support import items_config, write_yaml


@pytest.fixture
def write_config(tmp_path: Path, sample_api: SampleApi) -> Callable[..., tuple[Path, PipelineConfig]]:
    """Writes a pipeline YAML for the sample API's /items endpoint (`tests.support.items_config`), with
    `changes` merged in."""

    def write(**changes: Any) -> tuple[Path, PipelineConfig]:
        path = write_yaml(tmp_path / "pipeline.yaml", items_config(sample_api.url, tmp_path, **changes))
        return path, load_pipeline_config(path)

    return write


def run_report(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run the command line's `run` with `--report_json`; returns the exit code and the report."""
    from beam_api_pipeline.cli import main

    report_path = tmp_path / "report.json"
    report_path.unlink(missing_ok=True)
    code = main(["run", *args, "--report_json", str(report_path)])
    return code, json.loads(report_path.read_text())
