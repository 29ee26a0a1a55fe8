"""Record transforms: keep each record in its window, one per primary key (`dedup`), then apply `transform`."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms.window import BoundedWindow
from apache_beam.utils.timestamp import Timestamp

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.api import METADATA_COLUMNS
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.beam_windows import BundleWindows
from beam_api_pipeline.core.element_checks import checked
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.plan.parents import parent_column
from beam_api_pipeline.plan.run_plan import TaskElement, WindowTask, task_endpoint
from beam_api_pipeline.records.dead_letters import contract_dead_letter
from beam_api_pipeline.records.dedup import KeepNewestFn, bucketed
from beam_api_pipeline.records.placement import Placement, astray_example, is_astray
from beam_api_pipeline.records.record_ops import apply_transform
from beam_api_pipeline.schemas.contract import HeldSchema, apply_contract
from beam_api_pipeline.schemas.infer import Fields

INVALID = "invalid_records"
#: Dead-letter rows of the records a schema contract kept out, and `(task, reason)` of the rows `freeze` refused.
CONTRACT_DROPPED = "contract_dropped"
CONTRACT_FAILED = "contract_failed"
KEPT = "kept"
KEYED = "keyed"
ROW_COUNTS = "row_counts"
#: `(task, placement.Placement element)` of each batch of records placed: what became of them.
PLACED = "placed"
_OUTSIDE = "outside its window"


class _PlaceRecordsFn(beam.DoFn):
    """Checks a page of records: each record's placement field (`window.timestamp_field`, else the watermark's
    `timestamp_field`) must fall in its window (records of another window are dropped and counted; a child
    endpoint's records belong to their parent's window whatever their time), and with a `primary_key` the key
    must be there. Unreadable records go to INVALID with the reason; records of endpoints
    with a primary key go to KEYED in groups keyed for de-duplication within the window (a child's, within its
    parent's records of the window: `dedup.bucketed`); the others go on together as one batch. What became of
    the page's records goes to PLACED as `(task, placement.Placement element)`."""

    def __init__(self, config: PipelineConfig):
        watermark = config.api_config.watermark
        self._field = watermark.placement_field() if watermark.enabled else None
        self._format = watermark.time_format
        self._filtered = watermark.filter == "server"
        self._watermark = watermark
        self._sends_end = {name: config.api_config.sends_window_end(name) for name in config.api_config.endpoints}
        self._primary_keys = config.api_config.primary_keys()
        self._children = {name for name, e in config.api_config.endpoints.items() if e.parent is not None}

    def process(self, element: tuple[TaskElement, list[Any]]) -> Iterator[object]:
        task_element, records = element
        task = WindowTask.from_element(task_element)
        key_field = self._primary_keys[task.endpoint]
        placed_by_time = task.endpoint not in self._children
        placed = []
        outside = invalid = astray = unreadable = 0
        examples: dict[bool, str] = {}  # the least example of each kind: unreadable (True) and outside (False)
        for record in records:
            problem, stray = self._problem(task, placed_by_time, key_field, record)
            if stray is not None:
                kind = problem != _OUTSIDE
                astray += 1
                unreadable += kind
                examples[kind] = min(examples.get(kind, stray), stray)
            if problem == _OUTSIDE:
                outside += 1
            elif problem:
                invalid += 1
                yield pvalue.TaggedOutput(INVALID, (task_element, record, problem))
            else:
                placed.append(record)
        if records:
            metrics.RECORDS_OUTSIDE_WINDOW.inc(outside)
            metrics.RECORDS_INVALID.inc(invalid)
            counts = (len(records), outside, invalid, astray, unreadable)
            placement = Placement(*counts, examples.get(False), examples.get(True))
            yield pvalue.TaggedOutput(PLACED, (task_element, placement.to_element()))
        if not placed:
            return
        if key_field is None:
            yield task_element, placed
        else:
            # a child's records are de-duplicated among its parent's: its key may be unique within a parent only
            window_key = f"{task.endpoint} {task.label()}"
            for group in bucketed(task_element, window_key, placed, key_field, compress=True):
                yield pvalue.TaggedOutput(KEYED, group)

    def _problem(
        self, task: WindowTask, placed_by_time: bool, key_field: str | None, record: Any
    ) -> tuple[str | None, str | None]:
        """Why `record` cannot go on (_OUTSIDE: it belongs to another window than `task`'s, checked when
        `placed_by_time`), or None; and, with `filter: server`, how the record is named when the window's time
        filter should have kept it out or its time cannot be read (`placement.is_astray`), else None."""
        window = task.window
        if self._field is not None and placed_by_time:
            value = get_path(record, self._field)
            try:
                moment = parse_timestamp(value, self._format)
            except (ValueError, TypeError, OverflowError) as error:
                problem = f"{self._field}: {error}"
                return problem, problem if self._filtered else None
            if not window.contains(moment):
                sends_end = self._sends_end[task.endpoint]
                stray = self._filtered and is_astray(window, moment, self._watermark, sends_end)
                return _OUTSIDE, astray_example(self._field, value, moment) if stray else None
        if key_field is not None and get_path(record, key_field) is None:
            return f"primary_key {key_field}: missing", None
        return None, None


def _rows_tag(endpoint: str) -> str:
    """The output tag of an endpoint's rows (distinct from every other tag, whatever the endpoint's name)."""
    return f"rows:{endpoint}"


class _ApplyTransformFn(beam.DoFn):
    """The `transform` section (metadata naming the pipeline, endpoint, window and run; `select` keeps a child's
    `_parent_<field>` columns), then the endpoint's `schema_contract` against its schema in `schemas` (an endpoint
    without one has nothing to be held to yet), each row sent to its endpoint's output; counts the rows of each
    bundle into ROW_COUNTS. A row the contract keeps out goes to CONTRACT_DROPPED as the record it came from, or,
    under `freeze`, fails its window (CONTRACT_FAILED). An endpoint with `quality` checks gets `(task, rows)`
    batches, not counted here (its checks decide which rows go on: `transforms.quality.CheckQuality`)."""

    def __init__(self, config: PipelineConfig, run_id: str, schemas: dict[str, Fields]):
        self._config = config
        self._run_id = run_id
        self._schemas = schemas
        self._checked = {name for name, endpoint in config.api_config.endpoints.items() if endpoint.quality}
        self._parent_columns = {
            name: [parent_column(field) for field in endpoint.include_from_parent]
            for name, endpoint in config.api_config.endpoints.items()
        }

    def setup(self) -> None:
        self._held = {endpoint: HeldSchema(fields) for endpoint, fields in self._schemas.items()}

    def start_bundle(self) -> None:
        self._windows = BundleWindows()
        self._rows: dict[BoundedWindow, int] = {}
        self._metadata: dict[TaskElement, dict[str, str]] = {}

    def _metadata_of(self, task_element: TaskElement) -> dict[str, str]:
        """The metadata of a window's rows, made once per bundle (`_extracted_at` is when the bundle saw it)."""
        if task_element not in self._metadata:
            task = WindowTask.from_element(task_element)
            window, extracted_at = task.window, format_utc(datetime.now(UTC))
            values = (self._config.pipeline_id, task.endpoint, format_utc(window.start), format_utc(window.end))
            self._metadata[task_element] = dict(
                zip(METADATA_COLUMNS, (*values, extracted_at, self._run_id), strict=True)
            )
        return self._metadata[task_element]

    def process(
        self,
        element: tuple[TaskElement, list[Any]],
        window: BoundedWindow = beam.DoFn.WindowParam,
        timestamp: Timestamp = beam.DoFn.TimestampParam,
    ) -> Iterator[pvalue.TaggedOutput]:
        task_element, records = element
        endpoint = task_endpoint(task_element)
        transform = self._config.api_config.transform
        metadata = self._metadata_of(task_element) if transform.add_metadata else {}
        rows = records
        if transform.select or transform.rename or metadata:
            keep = self._parent_columns[endpoint]
            rows = [apply_transform(r, transform, metadata, keep) for r in records]
        if endpoint in self._schemas:
            rows = yield from self._held_to_contract(task_element, records, rows)
            if not rows:
                return
        if endpoint in self._checked:  # to its quality checks, with its window; they count what goes on
            yield pvalue.TaggedOutput(_rows_tag(endpoint), (task_element, rows))
            return
        self._windows.saw(window, timestamp)
        self._rows[window] = self._rows.get(window, 0) + len(rows)
        yield pvalue.TaggedOutput(_rows_tag(endpoint), rows)  # without a transform or contract, the batch as it came

    def _held_to_contract(
        self, task_element: TaskElement, records: list[Any], rows: list[Any]
    ) -> Generator[pvalue.TaggedOutput, None, list[Any]]:
        """Yields what the endpoint's `schema_contract` keeps out of `rows` (made from `records`); returns the
        rows to write."""
        endpoint = task_endpoint(task_element)
        contract = self._config.api_config.endpoints[endpoint].schema_contract
        schema, kept = self._held[endpoint], []
        for record, row in zip(records, rows, strict=True):
            outcome = apply_contract(contract, schema, row)
            if outcome is None:
                kept.append(row)
                continue
            if outcome.row is not None:
                kept.append(outcome.row)
                metrics.SCHEMA_VALUES_DISCARDED.inc(outcome.values_discarded)
                continue
            metrics.SCHEMA_ROWS_REFUSED.inc()
            if contract == "freeze":
                yield pvalue.TaggedOutput(CONTRACT_FAILED, (task_element, outcome.reason))
            else:
                dead = contract_dead_letter(
                    self._config.pipeline_id, self._run_id, task_element, record, outcome.reason
                )
                yield pvalue.TaggedOutput(CONTRACT_DROPPED, dead)
        return kept

    def finish_bundle(self) -> Iterator[pvalue.TaggedOutput]:
        for window, rows in self._rows.items():
            yield pvalue.TaggedOutput(ROW_COUNTS, self._windows.output(rows, window))


class TransformRecords(beam.PTransform):
    """Batches of `(task, records)` of `endpoints` (default: all) in; out: `rows` (each endpoint's batches of
    rows; `(task, rows)` batches for an endpoint with `quality` checks), `rows_written` (counts of them per bundle,
    to add up; but not those of endpoints with checks), INVALID (records that cannot be placed, with the reason),
    KEPT (the records placed and de-duplicated, before the transform: the parents of child endpoints),
    CONTRACT_DROPPED and CONTRACT_FAILED (what the endpoints' schema contracts keep out, held to `schemas`), and
    PLACED (what became of each batch of records: `placement.Placement`; `placement.JudgePlacement` sums it per
    window)."""

    def __init__(
        self,
        config: PipelineConfig,
        run_id: str,
        endpoints: list[str] | None = None,
        schemas: dict[str, Fields] | None = None,
    ):
        super().__init__()
        self._config = config
        self._run_id = run_id
        self._endpoints = endpoints or list(config.api_config.endpoints)
        self._schemas = schemas or {}

    def expand(self, records: pvalue.PCollection) -> dict[str, pvalue.PCollection]:
        placed = records | "PlaceRecords" >> beam.ParDo(_PlaceRecordsFn(self._config)).with_outputs(
            INVALID, KEYED, PLACED, main="unkeyed"
        )
        kept = unkeyed = checked(placed.unkeyed, "unkeyed")
        api = self._config.api_config
        keyed = [bool(api.endpoints[endpoint].primary_key) for endpoint in self._endpoints]
        if any(keyed):
            deduplicated = (
                checked(placed[KEYED], KEYED)
                | "GroupByKeyInWindow" >> beam.GroupByKey()
                | "KeepNewest" >> beam.ParDo(KeepNewestFn(self._config))
            )
            kept = checked(deduplicated, "newest")
            if not all(keyed):
                # Only when endpoints without a primary key run too: FnApiRunner keeps every record that goes
                # through a Flatten of two stages' outputs in memory until the stage after it runs.
                kept = (unkeyed, kept) | "AllPlaced" >> beam.Flatten()
        endpoints = self._endpoints
        transform = _ApplyTransformFn(self._config, self._run_id, self._schemas)
        shaped = kept | "ApplyTransform" >> beam.ParDo(transform).with_outputs(
            ROW_COUNTS, CONTRACT_DROPPED, CONTRACT_FAILED, *map(_rows_tag, endpoints)
        )
        return {
            "rows": {endpoint: checked(shaped[_rows_tag(endpoint)], f"rows:{endpoint}") for endpoint in endpoints},
            "rows_written": shaped[ROW_COUNTS],
            INVALID: checked(placed[INVALID], INVALID),
            PLACED: checked(placed[PLACED], PLACED),
            KEPT: kept,
            CONTRACT_DROPPED: checked(shaped[CONTRACT_DROPPED], CONTRACT_DROPPED),
            CONTRACT_FAILED: checked(shaped[CONTRACT_FAILED], CONTRACT_FAILED),
        }
