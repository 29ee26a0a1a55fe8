"""De-duplication within a window: keys grouped into buckets the same way in every process, the newest record
of a key kept (the first seen on a tie), and the result in batches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.packing import pack, unpack
from beam_api_pipeline.records.dedup import DEDUP_BUCKETS, KeepNewestFn, bucket_of, bucketed, record_key
from tests.support import items_config

TASK = ("items", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", 0, None)


def config(**api_changes) -> PipelineConfig:
    return PipelineConfig.model_validate(items_config("http://127.0.0.1:1", Path("unused"), api_config=api_changes))


def record(record_id, updated_at="2024-01-02T01:00:00Z", **fields):
    return {"id": record_id, "updated_at": updated_at, **fields}


KEYS = [7, "7", "é", {"b": 1, "a": 2}, {"a": 2, "b": 1}, True, 1.0, None, [1, "x"]]
BUCKETS_IN_A_PROCESS = (
    "from beam_api_pipeline.records.dedup import bucket_of, record_key; from tests.unit.test_dedup import KEYS; "
    "print([bucket_of(record_key({'id': key}, 'id')) for key in KEYS])"
)


def test_equal_keys_are_one_key_and_land_in_the_same_bucket_in_every_process():
    keys = [record_key({"id": key}, "id") for key in KEYS]
    assert keys[3] == keys[4] == b'{"a":2,"b":1}' and len(set(keys)) == len(KEYS) - 1  # 1, 1.0 and true apart
    buckets = [bucket_of(key) for key in keys]
    for seed in ("1", "2"):  # Python salts its hash of text differently in each process
        run = subprocess.run(
            [sys.executable, "-c", BUCKETS_IN_A_PROCESS],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        assert run.stdout.strip() == str(buckets)
    groups = dict(bucketed(TASK, "items W", [record(i) for i in range(200)], "id"))
    assert len(groups) == DEDUP_BUCKETS
    assert sum(len(unpack(packed)) for _, packed in groups.values()) == 200
    for key, (task, packed) in groups.items():
        bucket = int(key.rsplit(" ", 1)[1])
        assert task == TASK
        assert all(bucket_of(record_key(r, "id")) == bucket for r in unpack(packed))


def run_keep_newest(fn: KeepNewestFn, *groups: list) -> list:
    return list(fn.process(("items W 3", [(TASK, pack(list(group))) for group in groups])))


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
