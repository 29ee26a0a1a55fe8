"""TransformRecords alone, in a TestPipeline on the local runner: placement in the window, de-duplication by
primary key (the newest kept), the transform, and the records it cannot place with their reasons."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from beam_api_pipeline.records.transform import INVALID, TransformRecords
from tests.transform_support import DAY_1, DAY_2, config, pipeline, record


def test_transform_records_places_deduplicates_and_shapes_each_batch(tmp_path):
    batches = [
        (DAY_1.to_element(), [record(1, "2024-01-02T01:00:00Z", v="old"), record(2, "2024-01-02T02:00:00Z")]),
        (DAY_1.to_element(), [record(1, "2024-01-02T05:00:00Z", v="new"), record(3, "2024-01-05T00:00:00Z")]),
        (DAY_2.to_element(), [record(4, "not a time"), {"updated_at": "2024-01-03T01:00:00Z"}]),
    ]
    transform = {"select": ["id", "v"], "add_metadata": True}
    with pipeline() as p:
        shaped = (
            p | beam.Create(batches) | TransformRecords(config(tmp_path, api_config={"transform": transform}), "r1")
        )
        rows = shaped["rows"]["items"] | "Rows" >> beam.FlatMap(lambda batch: [(r["id"], r.get("v")) for r in batch])
        assert_that(rows, equal_to([(1, "new"), (2, None)]), label="RowsKept")
        assert_that(shaped["rows_written"], equal_to([2]), label="RowsWritten")
        reasons = shaped[INVALID] | beam.MapTuple(lambda task, row, reason: (task[1], row.get("id"), reason))
        expected = [
            ("2024-01-03T00:00:00Z", 4, "updated_at: not an ISO 8601 timestamp: 'not a time'"),
            ("2024-01-03T00:00:00Z", None, "primary_key id: missing"),
        ]
        assert_that(reasons, equal_to(expected), label="Invalid")
