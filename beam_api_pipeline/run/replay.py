"""Replaying a dead letter: exactly its failed windows (and failed child tasks, each for its one parent) are
fetched again and its records processed again."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.bigquery_names import parse_table_name
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.parents import EndpointTree, ParentRef
from beam_api_pipeline.plan.run_plan import RunPlan, WindowTask, new_run_id
from beam_api_pipeline.schemas.baseline import baseline_schemas


def read_dead_letters(location: str, pipeline_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """The dead-letter rows at `location`: a BigQuery table `project.dataset.table` or `project:dataset.table`
    (one run's rows: `run_id`, else the latest run's), or files (see `read_dead_letter_files`)."""
    if _is_table_name(location) and not os.path.exists(location):
        from beam_api_pipeline.outputs.dead_letter_table import read_dead_letter_table

        rows = read_dead_letter_table(location, pipeline_id, run_id)
        if not rows:
            raise ConfigError(f"--dead_letter: no dead letters of {pipeline_id} in {location}")
        return rows
    return read_dead_letter_files(location)


def _is_table_name(location: str) -> bool:
    """Whether `location` has the form of a BigQuery table name (a file's name may have it too)."""
    try:
        parse_table_name(location)
    except ValueError:
        return False
    return True


def read_dead_letter_files(path: str) -> list[dict[str, Any]]:
    """Every row of the dead-letter files at `path`: one file, a folder of them, or a glob (local or gs://)."""
    from apache_beam.io.filesystems import FileSystems

    pattern = path if any(c in path for c in "*?[") or path.endswith(".jsonl") else path.rstrip("/") + "/*.jsonl"
    files = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    if not files:
        raise ConfigError(f"--dead_letter: no dead-letter files at {path}")
    rows = []
    for name in files:
        with FileSystems.open(name) as handle:
            for number, line in enumerate(handle.read().decode("utf-8").splitlines(), start=1):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise ConfigError(f"{name}:{number}: not a dead-letter row (invalid JSON)") from None
    return rows


def make_replay_plan(config: PipelineConfig, store, rows: list[dict[str, Any]], now: datetime | None = None) -> RunPlan:
    """A run of exactly the windows and records in `rows` (rows of other pipelines are an error). Rows a sink
    rejected (`kind: row`) are not replayed."""
    endpoints = config.api_config.endpoints
    overlap = config.api_config.watermark.window.request_overlap()
    tasks: dict[WindowTask, None] = {}
    records: list[tuple[WindowTask, Any]] = []
    for row in rows:
        if row.get("kind") == "row":
            continue  # a row a sink rejected is already transformed: fix the sink's schema and load it as it is
        if row.get("pipeline_id") != config.pipeline_id or row.get("endpoint") not in endpoints:
            where = f"{row.get('pipeline_id')}/{row.get('endpoint')}"
            raise ConfigError(f"--dead_letter: a row of {where} does not belong to pipeline {config.pipeline_id}")
        window = Window(parse_timestamp(row["window_start"]), parse_timestamp(row["window_end"]), overlap)
        parent = row.get("parent")
        parent_ref = None if parent is None else ParentRef.of(parent["key"], parent["fields"])
        task = WindowTask(row["endpoint"], window, parent_ref)
        if row["kind"] == "window":
            tasks[task] = None
        else:
            records.append((task, row["record"]))
    now = now or datetime.now(UTC)
    before = {endpoint: store.get_watermark(config.pipeline_id, endpoint) for endpoint in endpoints}
    ordered = sorted(tasks, key=lambda t: (t.endpoint, t.window.start, t.parent is not None and t.parent.text))
    parents = EndpointTree.of(config.api_config).parents
    return RunPlan(
        new_run_id(now),
        config.pipeline_id,
        now,
        ordered,
        before,
        records,
        is_replay=True,
        endpoint_parents=parents,
        schemas_before=baseline_schemas(config, store),
    )
