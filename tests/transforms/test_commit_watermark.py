"""CommitWatermark alone, in a TestPipeline on the local runner: it moves the watermark over the complete windows
only, and only once its side inputs (the sinks' writes) are complete; the run record it saves.

The local runner runs stages one at a time in the order they were built, so the slow sink (built first) comes
before the commit here even without the wait: tests/runners/test_commit_order.py is the check that fails when the
commit stops waiting for the sinks (Prism runs stages at the same time)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pytest

from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.plan.run_plan import RunPlan, WindowResult, WindowStatus
from beam_api_pipeline.records.placement import Placement
from beam_api_pipeline.run.commit import CommitWatermark
from tests.support import t
from tests.transform_support import DAY_1, DAY_2, config, pipeline


def _slowly(count: int, marker: Path) -> int:
    time.sleep(1.0)
    marker.write_text(datetime.now(UTC).isoformat())
    return count


@pytest.mark.parametrize(
    ("failed", "watermark", "windows_done"),
    [(None, "2024-01-04", 2), ("day_2", "2024-01-03", 1), ("day_1", None, 1)],
    ids=["none_failed", "day_2_failed", "day_1_failed"],
)
def test_commit_moves_the_watermark_over_complete_windows_only_after_its_side_inputs(
    tmp_path, failed, watermark, windows_done
):
    """A failed window holds the watermark at its start; none is stored when the first window failed."""
    cfg = config(tmp_path)
    plan = RunPlan("r1", "sample_items", datetime.now(UTC), [DAY_1, DAY_2])
    day_1, day_2 = (WindowStatus.FAILED if failed == name else WindowStatus.DONE for name in ("day_1", "day_2"))
    results = [
        WindowResult(DAY_1, day_1, 3, 30, 0, None, None, 0.1, 0, 3, 3),
        WindowResult(DAY_2, day_2, 2, 20, 0, None, None, 0.1, 0, 2, 2),
    ]
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
                rows_written=p | "Rows" >> beam.Create([30, 20]),
                invalid_records=p | "NoInvalid" >> beam.Create([]),
                schemas=p | "NoSchemas" >> beam.Create([]),
                placements=p | "Placements" >> beam.Create([(DAY_1.to_element(), Placement(33, 3).to_element())]),
                endpoint_rows=p | "EndpointRows" >> beam.Create([("items", 30), ("items", 20)]),
            )
        )

    with opened_store(cfg.watermark_store) as store:
        run = store.get_run("r1")
        stored = store.get_watermark("sample_items", "items")
    assert stored == (None if watermark is None else t(watermark))
    status = "failed" if failed else "succeeded"
    assert (run.status, run.records_processed, run.windows_done) == (status, 50, windows_done)
    assert run.end_time > datetime.fromisoformat(marker.read_text())  # the commit came after the slow sink
    figures = {name: run.endpoint_stats["items"][name] for name in ("records", "written", "outside", "invalid")}
    assert figures == {"records": 50, "written": 50, "outside": 3, "invalid": 0}
