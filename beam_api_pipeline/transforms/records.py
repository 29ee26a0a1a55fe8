"""Record transforms: keep each record in its window, one per primary key, then apply `transform`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from beam_api_pipeline import metrics
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.paths import get_path
from beam_api_pipeline.record_ops import apply_transform
from beam_api_pipeline.run_plan import WindowTask
from beam_api_pipeline.timeformat import parse_timestamp
from beam_api_pipeline.windowing import format_utc

INVALID = "invalid_records"
KEYED = "keyed"
ROW_COUNTS = "row_counts"


class _PlaceRecordFn(beam.DoFn):
    """Checks each record: its `timestamp_field` must fall in its window (records of another window are dropped
    and counted), and with a `primary_key` the key must be there. Unreadable records go to INVALID with the
    reason; records of endpoints with a primary key go to KEYED, keyed for de-duplication within the window."""

    def __init__(self, config: PipelineConfig):
        watermark = config.api_config.watermark
        self._field = watermark.timestamp_field if watermark.enabled else None
        self._format = watermark.time_format
        self._primary_keys = {name: e.primary_key for name, e in config.api_config.endpoints.items()}

    def process(self, element: tuple[WindowTask, Any]) -> Iterator[object]:
        task, record = element
        if self._field is not None:
            try:
                moment = parse_timestamp(get_path(record, self._field), self._format)
            except (ValueError, TypeError, OverflowError) as error:
                metrics.RECORDS_INVALID.inc()
                yield pvalue.TaggedOutput(INVALID, (task, record, f"{self._field}: {error}"))
                return
            if not task.window.contains(moment):
                metrics.RECORDS_OUTSIDE_WINDOW.inc()
                return
        key_field = self._primary_keys[task.endpoint]
        if key_field is None:
            yield element
            return
        key = get_path(record, key_field)
        if key is None:
            metrics.RECORDS_INVALID.inc()
            yield pvalue.TaggedOutput(INVALID, (task, record, f"primary_key {key_field}: missing"))
            return
        window_key = f"{task.endpoint} {task.window.label()} {json.dumps(key, sort_keys=True, default=str)}"
        yield pvalue.TaggedOutput(KEYED, (window_key, element))


def _newest(keyed: tuple[Any, list[tuple[WindowTask, Any]]], timestamp_field: str | None, time_format: str):
    """One record per key and window: the newest by `timestamp_field` (the first seen on a tie)."""
    _, elements = keyed
    elements = list(elements)
    if len(elements) > 1:
        metrics.DUPLICATES_DROPPED.inc(len(elements) - 1)
    if timestamp_field is None:
        return elements[0]
    return max(elements, key=lambda e: parse_timestamp(get_path(e[1], timestamp_field), time_format))


def _rows_tag(endpoint: str) -> str:
    """The output tag of an endpoint's rows (distinct from every other tag, whatever the endpoint's name)."""
    return f"rows:{endpoint}"


class _ApplyTransformFn(beam.DoFn):
    """The `transform` section (metadata naming the pipeline, endpoint, window and run), each row sent to its
    endpoint's output; counts the rows of each bundle into ROW_COUNTS."""

    def __init__(self, config: PipelineConfig, run_id: str):
        self._config = config
        self._run_id = run_id

    def start_bundle(self) -> None:
        self._rows = 0
        self._metadata: dict[WindowTask, dict[str, str]] = {}

    def _metadata_of(self, task: WindowTask) -> dict[str, str]:
        """The metadata of a window's rows, made once per bundle (`_extracted_at` is when the bundle saw it)."""
        if task not in self._metadata:
            self._metadata[task] = {
                "_pipeline_id": self._config.pipeline_id,
                "_endpoint": task.endpoint,
                "_window_start": format_utc(task.window.start),
                "_window_end": format_utc(task.window.end),
                "_extracted_at": format_utc(datetime.now(UTC)),
                "_run_id": self._run_id,
            }
        return self._metadata[task]

    def process(self, element: tuple[WindowTask, Any]) -> Iterator[pvalue.TaggedOutput]:
        task, record = element
        transform = self._config.api_config.transform
        metadata = self._metadata_of(task) if transform.add_metadata else {}
        self._rows += 1
        yield pvalue.TaggedOutput(_rows_tag(task.endpoint), apply_transform(record, transform, metadata))

    def finish_bundle(self) -> Iterator[pvalue.TaggedOutput]:
        yield pvalue.TaggedOutput(ROW_COUNTS, WindowedValue(self._rows, MIN_TIMESTAMP, [GlobalWindow()]))


class TransformRecords(beam.PTransform):
    """`(task, record)` in; out: `rows` (each endpoint's rows), `rows_written` (their count) and INVALID
    (records that cannot be placed, with the reason)."""

    def __init__(self, config: PipelineConfig, run_id: str):
        super().__init__()
        self._config = config
        self._run_id = run_id

    def expand(self, records: pvalue.PCollection) -> dict[str, pvalue.PCollection]:
        watermark = self._config.api_config.watermark
        timestamp_field = watermark.timestamp_field if watermark.enabled else None
        placed = records | "PlaceRecords" >> beam.ParDo(_PlaceRecordFn(self._config)).with_outputs(
            INVALID, KEYED, main="unkeyed"
        )
        kept = placed.unkeyed
        if any(endpoint.primary_key for endpoint in self._config.api_config.endpoints.values()):
            deduplicated = (
                placed[KEYED]
                | "GroupByKeyInWindow" >> beam.GroupByKey()
                | "KeepNewest" >> beam.Map(_newest, timestamp_field, watermark.time_format)
            )
            kept = (kept, deduplicated) | "AllPlaced" >> beam.Flatten()
        endpoints = list(self._config.api_config.endpoints)
        shaped = kept | "ApplyTransform" >> beam.ParDo(_ApplyTransformFn(self._config, self._run_id)).with_outputs(
            ROW_COUNTS, *map(_rows_tag, endpoints)
        )
        rows_written = shaped[ROW_COUNTS] | "CountRows" >> beam.CombineGlobally(sum)
        return {
            "rows": {endpoint: shaped[_rows_tag(endpoint)] for endpoint in endpoints},
            "rows_written": rows_written,
            INVALID: placed[INVALID],
        }
