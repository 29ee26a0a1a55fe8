"""WriteDeadLetters alone, in a TestPipeline on the local runner: failed and truncated windows, records that could
not be placed and rows a sink rejected, each a JSON Lines row with its reason; nothing when all went well."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus
from beam_api_pipeline.records.dead_letters import WriteDeadLetters
from tests.support import read_jsonl
from tests.transform_support import DAY_1, DAY_2, pipeline


def test_write_dead_letters_keeps_failed_windows_and_bad_records_with_their_reasons(tmp_path):
    results = [
        WindowResult(DAY_1, WindowStatus.DONE, 3, 30, 0, None, None, 0.1, 0, 3, 3),
        WindowResult(
            DAY_2, WindowStatus.FAILED, 1, 10, 5, "GET /items answered 500", "RetryableApiError", 2.0, 1, 1, 4
        ),
        WindowResult(DAY_2, WindowStatus.TRUNCATED, 2, 20, 0, "max_pages (2) reached", "RuntimeError", 0.4, 0, 2, 5),
    ]
    invalid = [(DAY_1.to_element(), {"id": 9}, "updated_at: not a timestamp: None")]
    rejected = [{"kind": "row", "pipeline_id": "sample_items", "endpoint": "items", "error": "no such field: x"}]
    with pipeline() as p:
        inputs = (
            p | "Results" >> beam.Create([r.to_element() for r in results]),
            p | "Invalid" >> beam.Create(invalid),
            p | "Rejected" >> beam.Create(rejected),
        )
        written = inputs | WriteDeadLetters("sample_items", "r1", path=str(tmp_path / "dead"))
        assert_that(written | beam.combiners.Count.Globally(), equal_to([1]))

    rows = sorted(read_jsonl(tmp_path / "dead"), key=lambda row: (row["kind"], row.get("status", "")))
    assert [(r["kind"], r.get("status"), r.get("window_start"), r["error"]) for r in rows] == [
        ("record", None, "2024-01-02T00:00:00Z", "updated_at: not a timestamp: None"),
        ("row", None, None, "no such field: x"),
        ("window", "failed", "2024-01-03T00:00:00Z", "GET /items answered 500"),
        ("window", "truncated", "2024-01-03T00:00:00Z", "max_pages (2) reached"),
    ]
    assert rows[0]["record"] == {"id": 9} and rows[2]["retries"] == 5 and rows[2]["pages_fetched"] == 1


def test_write_dead_letters_writes_nothing_when_all_went_well(tmp_path):
    with pipeline() as p:
        empty = p | "Results" >> beam.Create(
            [WindowResult(DAY_1, WindowStatus.DONE, 1, 1, 0, None, None, 0, 0, 1, 1).to_element()]
        )
        nothing = (p | "Invalid" >> beam.Create([]), p | "Rejected" >> beam.Create([]))
        written = (empty, *nothing) | WriteDeadLetters("sample_items", "r1", path=str(tmp_path / "dead"))
        assert_that(written, equal_to([]))
    assert read_jsonl(tmp_path / "dead") == []
