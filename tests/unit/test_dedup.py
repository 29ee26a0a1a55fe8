"""De-duplication within a window: keys grouped into buckets the same way in every process, the newest record
of a key kept (the first seen on a tie), and the result in batches."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.transforms.dedup import DEDUP_BUCKETS, KeepNewestFn, bucketed, record_key
from tests.support import items_config

TASK = ("items", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", 0)


def config(**api_changes) -> PipelineConfig:
    return PipelineConfig.model_validate(items_config("http://127.0.0.1:1", Path("unused"), api_config=api_changes))


def record(record_id, updated_at="2024-01-02T01:00:00Z", **fields):
    return {"id": record_id, "updated_at": updated_at, **fields}


def test_a_key_is_the_same_bytes_in_every_process_and_lands_in_one_bucket():
    assert record_key({"id": {"b": 1, "a": 2}}, "id") == b'{"a":2,"b":1}'
    assert record_key(record(7), "id") == b"7"
    groups = dict(bucketed(TASK, "items W", [record(i) for i in range(200)], "id"))
    assert len(groups) == DEDUP_BUCKETS
    assert sum(len(records) for _, records in groups.values()) == 200
    for key, (task, records) in groups.items():
        bucket = int(key.rsplit(" ", 1)[1])
        assert task == TASK
        assert all(zlib.crc32(record_key(r, "id")) % DEDUP_BUCKETS == bucket for r in records)


def run_keep_newest(fn: KeepNewestFn, *groups: list) -> list:
    return list(fn.process(("items W 3", [(TASK, list(group)) for group in groups])))


def test_the_newest_copy_of_each_key_is_kept_whatever_the_order():
    old, new = record(1, "2024-01-02T01:00:00Z", v="old"), record(1, "2024-01-02T05:00:00Z", v="new")
    for groups in ([old, record(2)], [new]), ([new, record(2)], [old]):
        [(task, rows)] = run_keep_newest(KeepNewestFn(config()), *groups)
        assert task == TASK and sorted((r["id"], r.get("v")) for r in rows) == [(1, "new"), (2, None)]


def test_on_a_tie_or_without_a_timestamp_field_every_order_keeps_the_same_copy():
    first, second = record(1, v="first"), record(1, v="second")  # "second" is the greater as canonical JSON
    for fn in KeepNewestFn(config()), KeepNewestFn(config(watermark={"enabled": False})):
        for groups in ([first], [second]), ([second], [first]):
            [(_, rows)] = run_keep_newest(fn, *groups)
            assert rows == [second]


@pytest.mark.parametrize(("records", "batches"), [(10, [10]), (250, [100, 100, 50])])
def test_kept_records_leave_in_batches_of_at_most_batch_size(records, batches):
    out = run_keep_newest(KeepNewestFn(config(batch_size=100)), [record(i) for i in range(records)], [record(0)])
    assert [len(rows) for _, rows in out] == batches
    assert sorted(r["id"] for _, rows in out for r in rows) == list(range(records))
