"""Helpers shared by the test packages (plain functions, not fixtures)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml


def t(text: str) -> datetime:
    """A UTC time from ISO text without a zone: `t("2024-01-02")`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def read_jsonl(folder: Path, recursive: bool = False) -> list[dict[str, Any]]:
    """Every row of every finished `*.jsonl` file directly in `folder` (`recursive`: in its sub-folders too)."""
    paths = folder.rglob("*.jsonl") if recursive else folder.glob("*.jsonl")
    return [json.loads(line) for path in sorted(paths) for line in path.read_text().splitlines()]


def stored_watermark(config, endpoint: str = "items") -> datetime | None:
    """The watermark `config`'s store holds for `endpoint`."""
    from beam_api_pipeline.control.store import opened_store

    with opened_store(config.watermark_store) as store:
        return store.get_watermark(config.pipeline_id, endpoint)


#: Config sections whose keys depend on their `type`: a change replaces them whole.
_REPLACED_WHOLE = ("watermark_store", "dead_letter")


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, mappings key by key (but `watermark_store` and `dead_letter`, which a
    change replaces whole)."""
    result = dict(base)
    for key, value in changes.items():
        both_dicts = isinstance(value, dict) and isinstance(result.get(key), dict) and key not in _REPLACED_WHOLE
        result[key] = merged(result[key], value) if both_dicts else value
    return result


#: A child endpoint of `items_config`'s items: the sample API's two notes of each item (`/children/{id}/notes`).
NOTES_CHILD = {
    "parent": "items",
    "path": "/children/{parent.id}/notes",
    "records_path": "notes",
    "primary_key": "id",
    "pagination": {"enabled": False},
}


def items_config(api_url: str, folder: Path, **changes: Any) -> dict[str, Any]:
    """A pipeline config for the sample API's /items endpoint (page numbers, `primary_key: id`, daily windows
    from 2024-01-02) writing rows, dead letters and state under `folder`, with `changes` merged in."""
    base = {
        "pipeline_id": "sample_items",
        "extractor_class": "rest",
        "api_config": {
            "base_url": api_url,
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
        "output": [{"type": "local", "config": {"path": str(folder / "out"), "batch_size": 30}}],
        "dead_letter": {"path": str(folder / "dead_letter")},
        "watermark_store": {"type": "local", "path": str(folder / "state" / "control.db")},
    }
    return merged(base, changes)


def dataflow_items_config(folder: Path, control_table: str) -> dict[str, Any]:
    """`items_config` fit for Dataflow: pipeline `acme_items` reading https://api.example.com, writing to GCS and
    its dead letters to GCS, its control store the BigQuery table `control_table`."""
    return items_config(
        "https://api.example.com",
        folder,
        pipeline_id="acme_items",
        output=[{"type": "gcs", "config": {"bucket": "acme-lake", "prefix": "raw/"}}],
        dead_letter={"path": "gs://acme-lake/dead_letter"},
        watermark_store={"type": "bigquery", "table": control_table},
    )


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    """`data` written to `path` as YAML; returns `path`."""
    path.write_text(yaml.safe_dump(data))
    return path


#: The runner modes the README offers, as command-line options (Prism's location is added by `runner_mode_args`).
RUNNER_MODES = {
    "default": [],
    "in_memory": ["--direct_num_workers=1", "--direct_running_mode=in_memory"],
    "threads": ["--direct_num_workers=4", "--direct_running_mode=multi_threading"],
    "processes": ["--direct_num_workers=4", "--direct_running_mode=multi_processing"],
    "prism": ["--runner=PrismRunner"],
}


def runner_mode_args(mode: str) -> list[str]:
    """The options of RUNNER_MODES[`mode`], with the Prism binary for Prism."""
    return [*RUNNER_MODES[mode], f"--prism_location={prism_location()}"] if mode == "prism" else RUNNER_MODES[mode]


def prism_location() -> str:
    """The Prism binary `make test` builds (`PRISM_LOCATION`, else `.tools/prism`); fails the test, never skips
    it, when there is none: a missing runner must not pass for a passing test."""
    import pytest

    location = os.environ.get("PRISM_LOCATION") or str(Path(__file__).resolve().parent.parent / ".tools" / "prism")
    if not os.access(location, os.X_OK):
        pytest.fail(f"no Prism binary at {location}: run `make prism` (or `make test`, which builds it)")
    return location
