"""Fixtures for pipeline tests: the sample API on 127.0.0.1 and configs written to real files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from beam_api_pipeline.config import PipelineConfig, load_pipeline_config
from sample_api import SampleApi


@pytest.fixture
def sample_api() -> Iterator[SampleApi]:
    with SampleApi() as api:
        yield api


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


@pytest.fixture
def write_config(tmp_path: Path, sample_api: SampleApi) -> Callable[..., tuple[Path, PipelineConfig]]:
    """Writes a pipeline YAML for the sample API's /items endpoint, with `changes` merged in."""

    def write(**changes: Any) -> tuple[Path, PipelineConfig]:
        base = {
            "pipeline_id": "sample_items",
            "extractor_class": "rest",
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
            "output": [{"type": "local", "config": {"path": str(tmp_path / "out"), "batch_size": 30}}],
            "dead_letter": {"path": str(tmp_path / "dead_letter")},
            "watermark_store": {"type": "local", "path": str(tmp_path / "state" / "control.db")},
        }
        path = tmp_path / "pipeline.yaml"
        path.write_text(yaml.safe_dump(_merge(base, changes)))
        return path, load_pipeline_config(path)

    return write


def run_report(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run the command line's `run` with `--report_json`; returns the exit code and the report."""
    from beam_api_pipeline.cli import main

    report_path = tmp_path / "report.json"
    report_path.unlink(missing_ok=True)
    code = main(["run", *args, "--report_json", str(report_path)])
    return code, json.loads(report_path.read_text())
