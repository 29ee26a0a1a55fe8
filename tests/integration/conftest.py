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

from beam_api_pipeline.config import PipelineConfig, load_pipeline_config
from beam_api_pipeline.gcp.clients import (
    BIGQUERY_HOST_VARIABLE,
    STORAGE_HOST_VARIABLE,
    bigquery_client,
    default_project,
    storage_client,
    use_emulators,
)
from sample_api import SampleApi
from tests.support import items_config, merged, write_yaml

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
def control_table(project, dataset) -> str:
    """The watermark table `project.dataset.watermarks`, its control tables made as `setup` makes them (a run
    only gets them: it stops at a missing one)."""
    from beam_api_pipeline.control.bigquery import create_control_tables

    table = f"{project}.{dataset}.watermarks"
    create_control_tables(table)
    return table


@pytest.fixture
def write_config(tmp_path: Path, sample_api: SampleApi) -> Callable[..., tuple[Path, PipelineConfig]]:
    """Writes a pipeline YAML for the sample API's /items endpoint (`tests.support.items_config`: 25 a page, no
    lookback, no output unless given), with `changes` merged in."""

    def write(**changes: Any) -> tuple[Path, PipelineConfig]:
        api = {
            "pagination": {"page_size": 25},
            "retry": {"max_attempts": 3, "max_time": 10},
            "watermark": {"lookback_window": "0m"},
        }
        base = items_config(sample_api.url, tmp_path, pipeline_id="it_items", api_config=api, output=[])
        path = write_yaml(tmp_path / "pipeline.yaml", merged(base, changes))
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
