"""RecordLatency: how long after its `timestamp_field` time each row of a streaming run reaches the outputs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import apache_beam as beam

from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.timeformat import parse_timestamp


class RecordLatencyFn(beam.DoFn):
    """Batches of an endpoint's rows in; out, the oldest time of each batch in epoch milliseconds (for the poll's
    `poll_write_latency_ms`, see `commit`). Each row's latency, from its `column` (the watermark's
    `timestamp_field` in the row, in `time_format`) to now, as the rows are handed to the outputs, goes to
    `record_latency_ms`."""

    def __init__(self, column: str | None, time_format: str):
        self._column = column
        self._time_format = time_format

    def process(self, rows: list) -> Iterator[int]:
        if self._column is None:
            return
        now = datetime.now(UTC)
        times = [
            parse_timestamp(value, self._time_format)
            for row in rows
            if (value := get_path(row, self._column)) is not None
        ]
        for moment in times:
            metrics.RECORD_LATENCY_MS.update(int((now - moment).total_seconds() * 1000))
        if times:
            yield int(min(times).timestamp() * 1000)
