"""De-duplication's groups as they cross the shuffle (issue 31): compressed, since a local runner holds the whole
input of the grouping in memory; KeepNewest reads compressed and plain groups alike."""

from __future__ import annotations

import zlib

from beam_api_pipeline.core.packing import pack, unpack, unpack_any
from beam_api_pipeline.records.dedup import KeepNewestFn, bucketed
from tests.unit.test_dedup import TASK, config, record

RECORDS = [record(i, title=f"Item {i}", state="open") for i in range(500)]


def test_compressed_groups_hold_the_same_records_as_plain_ones_in_a_fifth_of_the_bytes():
    plain = dict(bucketed(TASK, "items W", RECORDS, "id"))
    compressed = dict(bucketed(TASK, "items W", RECORDS, "id", compress=True))
    assert plain.keys() == compressed.keys()
    for key, (task, packed) in compressed.items():
        assert task == TASK
        assert packed == zlib.compress(plain[key][1], 1)
        assert unpack_any(packed) == unpack_any(plain[key][1]) == unpack(plain[key][1])
    assert sum(len(p) for _, p in compressed.values()) * 3 < sum(len(p) for _, p in plain.values())


def test_keep_newest_reads_compressed_groups():
    old, new = record(1, "2024-01-02T01:00:00Z", v="old"), record(1, "2024-01-02T05:00:00Z", v="new")
    groups = [(TASK, zlib.compress(pack([old, record(2)]), 1)), (TASK, pack([new]))]
    [(task, rows)] = list(KeepNewestFn(config()).process(("items W 3", groups)))
    assert task == TASK and sorted((r["id"], r.get("v")) for r in rows) == [(1, "new"), (2, None)]
