"""Fixtures for the emulator tests: the sample API, the BigQuery and GCS emulators (started by
`tests/integration/emulators.sh run`, as `make test` does), a fresh dataset per test and pipeline configs
written to real files. Without the emulators' variables every test here is skipped."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from beam_api_pipeline.config import PipelineConfig, load_pipeline_config
from beam_api_pipeline.gcp.endpoints import (
    BIGQUERY_HOST_VARIABLE,
    STORAGE_HOST_VARIABLE,
    bigquery_client,
    default_project,
    storage_client,
    use_emulators,
)
from sample_api import SampleApi

_MISSING = [name for name in (BIGQUERY_HOST_VARIABLE, STORAGE_HOST_VARIABLE) if not os.environ.get(name)]


def pytest_collection_modifyitems(config, items) -> None:
    if not _MISSING:
        return
    skip = pytest.mark.skip(
        reason=f"{' and '.join(_MISSING)} not set: run `make test` (or tests/integration/emulators.sh run pytest)"
    )
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def project() -> str:
    use_emulators()
    return default_project()


@pytest.fixture(scope="session")
def bucket() -> str:
    return os.environ.get("EMULATOR_BUCKET", "test-bucket")


@pytest.fixture
def bq(project: str) -> Iterator[Any]:
    client = bigquery_client(project)
    yield client
    client.close()


@pytest.fixture
def gcs(project: str) -> Iterator[Any]:
    yield storage_client(project)


@pytest.fixture
def dataset(bq) -> Iterator[str]:
    """A new, empty dataset, dropped afterwards."""
    name = f"it_{uuid.uuid4().hex[:10]}"
    bq.create_dataset(name)
    yield name
    bq.delete_dataset(name, delete_contents=True, not_found_ok=True)


@pytest.fixture
def sample_api() -> Iterator[SampleApi]:
    with SampleApi() as api:
        yield api


_REPLACED = {"watermark_store", "dead_letter"}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in; lists and the sections in _REPLACED are replaced whole."""
    merged = dict(base)
    for key, value in changes.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in _REPLACED
        merged[key] = _merge(merged[key], value) if nested else value
    return merged


@pytest.fixture
def write_config(tmp_path: Path, sample_api: SampleApi) -> Callable[..., tuple[Path, PipelineConfig]]:
    """Writes a pipeline YAML for the sample API's /items endpoint, with `changes` merged in."""

    def write(**changes: Any) -> tuple[Path, PipelineConfig]:
        base = {
            "pipeline_id": "it_items",
            "api_config": {
                "base_url": sample_api.url,
                "timeout": 5,
                "endpoints": {"items": {"path": "/items", "records_path": "items", "primary_key": "id"}},
                "pagination": {"strategy": "page_number", "page_size": 25, "total_path": "total"},
                "retry": {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05, "max_time": 10},
                "watermark": {
                    "timestamp_field": "updated_at",
                    "watermark_field": "since",
                    "window_end_field": "until",
                    "initial_watermark": "2024-01-02T00:00:00Z",
                    "lookback_window": "0m",
                    "window": {"window_size": "24h"},
                },
            },
            "output": [],
            "dead_letter": {"path": str(tmp_path / "dead_letter")},
            "watermark_store": {"type": "local", "path": str(tmp_path / "state" / "control.db")},
        }
        path = tmp_path / "pipeline.yaml"
        path.write_text(yaml.safe_dump(_merge(base, changes)))
        return path, load_pipeline_config(path)

    return write


@pytest.fixture
def beam_args(project: str, bucket: str) -> list[str]:
    """Pipeline options for a run on the in-process FnApiRunner against the emulators (Beam's DirectRunner would
    first try to download Prism)."""
    return [
        "--runner=FnApiRunner",
        f"--project={project}",
        f"--temp_location=gs://{bucket}/tmp/{uuid.uuid4().hex[:8]}",
    ]
