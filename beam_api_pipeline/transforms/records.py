"""Record ParDos: keep each record in the window its timestamp falls in, then apply `transform`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline import metrics
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.paths import get_path
from beam_api_pipeline.record_ops import apply_transform
from beam_api_pipeline.run_plan import WindowTask
from beam_api_pipeline.timeformat import parse_timestamp
from beam_api_pipeline.windowing import format_utc

INVALID = "invalid_records"


class _KeepInWindowFn(beam.DoFn):
    """Passes records whose `timestamp_field` falls in their window; drops (and counts) the rest, which belong
    to another window; sends records without a readable timestamp to INVALID."""

    def __init__(self, timestamp_field: str, time_format: str):
        self._field = timestamp_field
        self._format = time_format

    def process(self, element: tuple[WindowTask, Any]) -> Iterator[object]:
        task, record = element
        try:
            moment = parse_timestamp(get_path(record, self._field), self._format)
        except (ValueError, TypeError, OverflowError) as error:
            metrics.RECORDS_INVALID.inc()
            yield pvalue.TaggedOutput(INVALID, (task, record, f"{self._field}: {error}"))
            return
        if task.window.contains(moment):
            yield element
        else:
            metrics.RECORDS_OUTSIDE_WINDOW.inc()


class _ApplyTransformFn(beam.DoFn):
    """The `transform` section, with metadata naming the pipeline, endpoint, window and run."""

    def __init__(self, config: PipelineConfig, run_id: str):
        self._config = config
        self._run_id = run_id

    def process(self, element: tuple[WindowTask, Any]) -> Iterator[tuple[str, Any]]:
        task, record = element
        metadata = {
            "_pipeline_id": self._config.pipeline_id,
            "_endpoint": task.endpoint,
            "_window_start": format_utc(task.window.start),
            "_window_end": format_utc(task.window.end),
            "_extracted_at": format_utc(datetime.now(UTC)),
            "_run_id": self._run_id,
        }
        yield task.endpoint, apply_transform(record, self._config.api_config.transform, metadata)


class TransformRecords(beam.PTransform):
    """`(task, record)` in; `{"rows": (endpoint, row), INVALID: records that cannot be placed}` out."""

    def __init__(self, config: PipelineConfig, run_id: str):
        super().__init__()
        self._config = config
        self._run_id = run_id

    def expand(self, records: pvalue.PCollection) -> dict[str, pvalue.PCollection]:
        watermark = self._config.api_config.watermark
        if watermark.enabled:
            placed = records | "KeepInWindow" >> beam.ParDo(
                _KeepInWindowFn(watermark.timestamp_field, watermark.time_format)
            ).with_outputs(INVALID, main="placed")
            kept, invalid = placed.placed, placed[INVALID]
        else:
            kept = records
            invalid = records.pipeline | "NoInvalidRecords" >> beam.Create([])
        rows = kept | "ApplyTransform" >> beam.ParDo(_ApplyTransformFn(self._config, self._run_id))
        return {"rows": rows, INVALID: invalid}
