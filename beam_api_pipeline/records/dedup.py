"""De-duplication within a window: one record per primary key, the newest by `timestamp_field`.

Records travel to the shuffle in packed batches, not one by one (see `packing`): each batch of a window is cut
into at most DEDUP_BUCKETS groups by a stable hash of the key, and the shuffle groups them by (window, bucket),
so that every copy of a key meets the others and each group holds about a DEDUP_BUCKETS-th of a window.
A local runner (FnApiRunner) holds the whole input of the grouping in memory before the first group is read, so
the groups travel compressed (`bucketed(..., compress=True)`): a third to a fifth of their packed size.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator
from datetime import datetime
from typing import Any

import apache_beam as beam

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core import jsoncodec, metrics
from beam_api_pipeline.core.packing import pack, pack_compressed, unpack_any
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.plan.run_plan import TaskElement, task_endpoint

DEDUP_BUCKETS = 16

#: `(window and bucket, (task, packed records))`: the element KeepNewest groups.
KeyedBatch = tuple[str, tuple[TaskElement, bytes]]


def record_key(record: Any, key_field: str) -> Hashable:
    """What copies of a record share: its primary key as it is when text or an integer, else as canonical JSON
    (so that equal objects are equal keys, and 1, 1.0 and true stay three)."""
    value = get_path(record, key_field)
    return value if type(value) is str or type(value) is int else jsoncodec.canonical(value)


def bucket_of(key: Hashable) -> int:
    """The bucket of a `record_key`, the same in every process (Python's own hash of text is salted per process)."""
    if type(key) is int:
        return key % DEDUP_BUCKETS
    return zlib.crc32(key.encode("utf-8", "surrogatepass") if type(key) is str else key) % DEDUP_BUCKETS


def bucketed(
    task_element: TaskElement, window_key: str, records: list[Any], key_field: str, compress: bool = False
) -> Iterator[KeyedBatch]:
    """`records` of one window in at most DEDUP_BUCKETS packed groups (`pack_compressed` when `compress`), each
    keyed by the window and its bucket."""
    groups: dict[int, list[Any]] = defaultdict(list)
    for record in records:
        groups[bucket_of(record_key(record, key_field))].append(record)
    for bucket, group in groups.items():
        yield f"{window_key} {bucket}", (task_element, pack_compressed(group) if compress else pack(group))


class KeepNewestFn(beam.DoFn):
    """One record per key of a (window, bucket) group, the newest by `timestamp_field` (see `_prefer`; a child
    endpoint's records, which may lack it, by content alone), out in `(task, rows)` batches of at most
    `batch_size`."""

    def __init__(self, config: PipelineConfig):
        watermark = config.api_config.watermark
        timestamp_field = watermark.timestamp_field if watermark.enabled else None
        self._timestamp_fields = {
            name: None if endpoint.parent else timestamp_field for name, endpoint in config.api_config.endpoints.items()
        }
        self._time_format = watermark.time_format
        self._primary_keys = config.api_config.primary_keys()
        self._batch_size = config.api_config.batch_size

    def process(self, keyed: tuple[str, Iterable[tuple[TaskElement, bytes]]]) -> Iterator[tuple]:
        _, groups = keyed
        newest: dict[Hashable, Any] = {}
        seen = 0
        for task_element, packed in groups:
            endpoint = task_endpoint(task_element)
            key_field, timestamp_field = self._primary_keys[endpoint], self._timestamp_fields[endpoint]
            for record in unpack_any(packed):
                seen += 1
                key = record_key(record, key_field)
                kept = newest.setdefault(key, record)
                if kept is not record and self._prefer(record, kept, timestamp_field):
                    newest[key] = record
        if seen > len(newest):
            metrics.DUPLICATES_DROPPED.inc(seen - len(newest))
        rows = list(newest.values())
        for start in range(0, len(rows), self._batch_size):
            yield task_element, rows[start : start + self._batch_size]

    def _prefer(self, record: Any, kept: Any, timestamp_field: str | None) -> bool:
        """Whether `record` replaces `kept` (the same key): the newer by `timestamp_field` wins; on a tie, or
        without a timestamp field, the greater as canonical JSON, so that every run keeps the same copy
        whatever order the shuffle gives."""
        if timestamp_field is not None:
            moment, kept_moment = self._moment(record, timestamp_field), self._moment(kept, timestamp_field)
            if moment != kept_moment:
                return moment > kept_moment
        return jsoncodec.canonical(record) > jsoncodec.canonical(kept)

    def _moment(self, record: Any, timestamp_field: str) -> datetime:
        return parse_timestamp(get_path(record, timestamp_field), self._time_format)
