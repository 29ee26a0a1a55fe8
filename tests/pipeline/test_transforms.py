"""Each transform of the graph on its own, in a TestPipeline on the local runner: TransformRecords,
WriteDeadLetters and CommitWatermark (which must run only once its side inputs are complete)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.runners import SafeFnApiRunner
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.run_plan import RunPlan, WindowResult, WindowStatus, WindowTask
from beam_api_pipeline.records.dead_letters import WriteDeadLetters
from beam_api_pipeline.records.placement import Placement
from beam_api_pipeline.records.transform import INVALID, TransformRecords
from beam_api_pipeline.run.commit import CommitWatermark
from tests.support import items_config, read_jsonl, t

DAY_1 = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
DAY_2 = WindowTask("items", Window(t("2024-01-03"), t("2024-01-04")))


def config(folder: Path, **changes) -> PipelineConfig:
    return PipelineConfig.model_validate(items_config("http://127.0.0.1:1", folder, **changes))


def pipeline() -> test_pipeline.TestPipeline:
    return test_pipeline.TestPipeline(
        runner=SafeFnApiRunner(), options=beam.options.pipeline_options.PipelineOptions([])
    )


def record(record_id: int, updated_at: str, **fields) -> dict:
    return {"id": record_id, "updated_at": updated_at, **fields}


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


def _slowly(count: int, marker: Path) -> int:
    time.sleep(1.0)
    marker.write_text(datetime.now(UTC).isoformat())
    return count


@pytest.mark.parametrize("failed_day_2", [False, True])
def test_commit_moves_the_watermark_over_complete_windows_only_after_its_side_inputs(tmp_path, failed_day_2):
    cfg = config(tmp_path)
    plan = RunPlan("r1", "sample_items", datetime.now(UTC), [DAY_1, DAY_2])
    results = [WindowResult(DAY_1, WindowStatus.DONE, 3, 30, 0, None, None, 0.1, 0, 3, 3)]
    results.append(
        WindowResult(
            DAY_2, WindowStatus.FAILED if failed_day_2 else WindowStatus.DONE, 2, 20, 0, None, None, 0.1, 0, 2, 2
        )
    )
    marker = tmp_path / "written_at"
    with pipeline() as p:
        written = p | "Written" >> beam.Create([4]) | "Slowly" >> beam.Map(_slowly, marker)
        _ = (
            p
            | "Results" >> beam.Create([r.to_element() for r in results])
            | CommitWatermark(
                cfg,
                plan,
                written=written,
                dead_letters=p | "NoDeadLetters" >> beam.Create([]),
                rows_written=p | "Rows" >> beam.Create([50]),
                invalid_records=p | "Invalid" >> beam.Create([0]),
                spawned=p | "NoChildTasks" >> beam.Create([]),
                schemas=p | "NoSchemas" >> beam.Create([]),
                placements=p | "Placements" >> beam.Create([(DAY_1.to_element(), Placement(33, 3).to_element())]),
                endpoint_rows=p | "EndpointRows" >> beam.Create([("items", 30), ("items", 20)]),
            )
        )

    with opened_store(cfg.watermark_store) as store:
        run = store.get_run("r1")
        watermark = store.get_watermark("sample_items", "items")
    assert watermark == (t("2024-01-03") if failed_day_2 else t("2024-01-04"))
    assert (run.status, run.records_processed, run.windows_done) == (
        ("failed", 50, 1) if failed_day_2 else ("succeeded", 50, 2)
    )
    assert run.end_time > datetime.fromisoformat(marker.read_text())  # the commit came after the slow sink
    figures = {name: run.endpoint_stats["items"][name] for name in ("records", "written", "outside", "invalid")}
    assert figures == {"records": 50, "written": 50, "outside": 3, "invalid": 0}
