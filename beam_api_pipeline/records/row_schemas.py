"""Schemas in the graph: RowSchemas (the BigQuery schema of the rows each endpoint wrote in a run, recorded in
the schema history by the commit step) and FailContractWindows (the windows `schema_contract: freeze` fails).

    each endpoint's batches of rows ─▶ InferBatch ─▶ (endpoint, fields) ─▶ CombinePerKey(merge_fields)
                                                                                   │ side input
                                                                                   ▼
                              the commit step: record_run_schema and write_schema_files per endpoint
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems

from beam_api_pipeline.control.schema_versions import SchemaVersion
from beam_api_pipeline.control.store import WatermarkStore
from beam_api_pipeline.gcp.clients import use_emulators
from beam_api_pipeline.plan.run_plan import ResultElement, TaskElement
from beam_api_pipeline.records.quality import failed_result, fetch_failures
from beam_api_pipeline.schemas.contract import CONTRACT_ERROR_TYPE
from beam_api_pipeline.schemas.infer import Fields, extended_fields, merge_all, observed_fields, schema_changes

logger = logging.getLogger(__name__)

#: How many times a run reads the latest schema version again when another run recorded one meanwhile.
_RECORD_ATTEMPTS = 5


class RowSchemas(beam.PTransform):
    """In: each endpoint's batches of rows (lists), as a dict (one endpoint at least). Out: `(endpoint, fields)`
    for each endpoint that wrote a row: the fields observed in all its rows (`schema_infer.observed_fields`, not
    settled: a column null in this run takes the type it had)."""

    def __init__(self, timestamp_columns: frozenset[str]):
        super().__init__()
        self._timestamp_columns = timestamp_columns

    def expand(self, rows: dict[str, pvalue.PCollection]) -> pvalue.PCollection:
        columns = self._timestamp_columns
        inferred = [
            batches
            | f"InferBatch[{endpoint}]" >> beam.Map(lambda batch, e: (e, observed_fields(batch, columns)), endpoint)
            for endpoint, batches in rows.items()
        ]
        return inferred | "AllBatchSchemas" >> beam.Flatten() | "MergeSchemas" >> beam.CombinePerKey(merge_all)


def record_run_schema(
    store: WatermarkStore,
    pipeline_id: str,
    endpoint: str,
    run_fields: Fields,
    run_id: str,
    baseline: Fields | None,
    applied_to: list[str] | None = None,
) -> SchemaVersion:
    """The schema version that describes this run's rows of `endpoint`: the latest version (before the first
    one, the `baseline` the rows were held to, a declared schema) extended by what the rows (`run_fields`, as
    RowSchemas observed them) added, recorded as a new version when it differs from the latest one, else the
    latest one; its changes end with an "applied to <table>" line for each of `applied_to` (the tables that
    grew with the rows, `BaseOutput.schema_table`). A version recorded by another run meanwhile is read again
    and extended (at most _RECORD_ATTEMPTS times)."""
    for _ in range(_RECORD_ATTEMPTS):
        latest = store.latest_schema(pipeline_id, endpoint)
        before = latest.fields if latest is not None else None
        after = extended_fields(before if before is not None else baseline or [], run_fields)
        changes = schema_changes(before, after)
        if latest is not None and not changes:
            return latest
        changes += [f"applied to {table}" for table in applied_to or []]
        expected = latest.version if latest is not None else 0
        version = store.record_schema(pipeline_id, endpoint, after, changes, run_id, expected)
        if version is not None:
            logger.info("schema of %s: version %d: %s", endpoint, version.version, "; ".join(changes))
            return version
    raise RuntimeError(f"schema of {endpoint}: other runs kept recording versions; {_RECORD_ATTEMPTS} attempts")


def write_schema_files(paths: list[str], version: SchemaVersion, run_id: str) -> None:
    """Write the schema of run `run_id`'s files (`version`: its number and fields) as JSON to each of `paths`
    (local or gs://: `BaseOutput.schema_file`)."""
    if not paths:
        return
    use_emulators()
    document = {
        "pipeline_id": version.pipeline_id,
        "endpoint": version.endpoint,
        "run_id": run_id,
        "schema_version": version.version,
        "fields": version.fields,
    }
    content = json.dumps(document, indent=2).encode("utf-8")
    for path in paths:
        with FileSystems.create(path, mime_type="application/json") as handle:
            handle.write(content)


_REFUSED, _FETCH_FAILED = "refused", "fetch_failed"


def _window_failure(grouped: tuple[TaskElement, dict[str, Iterable[Any]]]) -> Iterator[ResultElement]:
    task_element, found = grouped
    reasons = sorted(found[_REFUSED])
    if reasons and not any(True for _ in found[_FETCH_FAILED]):
        error = f"{len(reasons)} rows do not fit the endpoint's schema, for example: {reasons[0]}"
        yield failed_result(task_element, error, CONTRACT_ERROR_TYPE)


class FailContractWindows(beam.PTransform):
    """In: `(task, reason)` of each row `schema_contract: freeze` refused, and the WindowResult elements of the
    level's fetch. Out: a failed WindowResult element for each window (or child task) with a refused row, naming
    how many and one reason (the first in sorted order, the same on every runner); none for a window whose fetch
    failed (it failed once already)."""

    def expand(self, inputs: tuple[pvalue.PCollection, pvalue.PCollection]) -> pvalue.PCollection:
        refused, fetch_results = inputs
        return (
            {_REFUSED: refused, _FETCH_FAILED: fetch_failures(fetch_results)}
            | "GroupByWindow" >> beam.CoGroupByKey()
            | "FailWindow" >> beam.FlatMap(_window_failure)
        )
