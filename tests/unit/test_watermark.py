from datetime import timedelta

import pytest

from beam_api_pipeline.config import WatermarkConfig
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.watermarks import WatermarkHandler, WindowOutcome, next_watermark
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.run_plan import (
    RunPlan,
    WindowResult,
    WindowStatus,
    WindowTask,
    watermarks_after,
    window_complete,
    window_outcomes,
)
from tests.support import t

DAYS = [Window(t("2024-01-01"), t("2024-01-02")), Window(t("2024-01-02"), t("2024-01-03"))]
DAYS.append(Window(t("2024-01-03"), t("2024-01-04")))


def test_watermark_moves_to_the_end_of_the_complete_prefix():
    outcomes = [WindowOutcome(DAYS[2], True), WindowOutcome(DAYS[0], True), WindowOutcome(DAYS[1], False)]
    assert next_watermark(outcomes) == t("2024-01-02")
    assert next_watermark([WindowOutcome(w, True) for w in DAYS]) == t("2024-01-04")
    assert next_watermark([WindowOutcome(DAYS[0], False), WindowOutcome(DAYS[1], True)]) is None
    assert next_watermark([]) is None


def part(window: Window, status: WindowStatus, pages: tuple[int, int], window_pages: int | None) -> WindowResult:
    """A part of `window`'s walk that fetched the pages [first, end)."""
    first, end = pages
    return WindowResult(
        WindowTask("items", window), status, end - first, 10, 0, None, None, 0.1, first, end, window_pages
    )


def test_a_window_is_complete_when_its_parts_cover_every_page_and_none_failed():
    plan = RunPlan("r1", "p", t("2024-02-01"), [WindowTask("items", w) for w in DAYS])
    results = [
        part(DAYS[0], WindowStatus.DONE, (0, 3), None),  # a walk, split after page 3 ...
        part(DAYS[0], WindowStatus.DONE, (3, 7), 7),  # ... whose residual reached the last page
        part(DAYS[1], WindowStatus.DONE, (0, 5), 10),  # a page range whose other part never reported
        part(DAYS[2], WindowStatus.PARTIAL, (0, 2), 4),  # a range part deferred after two pages ...
        part(DAYS[2], WindowStatus.DONE, (2, 4), 4),  # ... and resumed
    ]
    assert [o.complete for o in window_outcomes(plan, results)["items"]] == [True, False, True]
    assert watermarks_after(plan, window_outcomes(plan, results)) == {"items": t("2024-01-02")}


@pytest.mark.parametrize(
    "parts",
    [
        [part(DAYS[0], WindowStatus.DONE, (0, 3), None)],  # a walk whose last page nobody fetched
        [part(DAYS[0], WindowStatus.DONE, (0, 3), 6), part(DAYS[0], WindowStatus.DONE, (4, 6), 6)],  # page 3 missing
        [
            part(DAYS[0], WindowStatus.DONE, (0, 6), 6),
            part(DAYS[0], WindowStatus.DONE, (6, 9), 9),
        ],  # parts disagree on the total
        [part(DAYS[0], WindowStatus.DONE, (0, 3), 6), part(DAYS[0], WindowStatus.FAILED, (3, 3), 6)],
        [part(DAYS[0], WindowStatus.TRUNCATED, (0, 5), 5)],
        [],
    ],
    ids=["no_last_page", "gap", "totals_differ", "failed", "truncated", "no_result"],
)
def test_a_window_is_incomplete_when_a_page_is_missing_or_a_part_failed(parts):
    assert not window_complete(parts)


def test_run_bounds_come_from_the_store_minus_lookback(tmp_path):
    store = LocalWatermarkStore(tmp_path / "c.db")
    config = WatermarkConfig(
        enabled=True, initial_watermark="2024-01-01T00:00:00Z", lookback_window="2h", window={"window_size": "1d"}
    )
    handler = WatermarkHandler(config, store, "p")
    now = t("2024-01-03T12:00")
    assert handler.run_bounds(handler.get_last_watermark("items"), now=now) == (t("2024-01-01"), now)
    store.advance_watermark("p", "items", t("2024-01-03"), "r1")
    stored = handler.get_last_watermark("items")
    assert handler.run_bounds(stored, now=now) == (t("2024-01-02T22:00"), now)
    assert handler.run_bounds(stored, end_time=t("2030-01-01"), now=now)[1] == now
    explicit = handler.run_bounds(stored, start_time=t("2023-06-01"), end_time=t("2023-06-02"), now=now)
    assert explicit == (t("2023-06-01"), t("2023-06-02"))
    assert [w.start for w in handler.plan(stored, now=now)] == [t("2024-01-02T22:00"), t("2024-01-03")]


def test_the_local_store_never_moves_a_watermark_backwards(tmp_path):
    store = LocalWatermarkStore(tmp_path / "c.db")
    assert store.get_watermark("p", "items") is None
    store.advance_watermark("p", "items", t("2024-01-05"), "r1")
    store.advance_watermark("p", "items", t("2024-01-03"), "r2")
    assert store.get_watermark("p", "items") == t("2024-01-05")
    store.advance_watermark("p", "items", t("2024-01-05") + timedelta(microseconds=1), "r3")
    assert store.get_watermark("p", "items") == t("2024-01-05") + timedelta(microseconds=1)
    assert store.get_watermark("p", "events") is None


def test_run_records_round_trip(tmp_path):
    store = LocalWatermarkStore(tmp_path / "c.db")
    run = PipelineRun("r1", "p", RunStatus.SUCCEEDED, t("2024-01-01T10:00"), t("2024-01-01T10:05"), 42, ["x"], 3, 0)
    store.save_run(run)
    store.save_run(PipelineRun("r2", "p", "running", t("2024-01-02T10:00")))
    assert store.get_run("r1") == run
    assert [r.run_id for r in store.list_runs("p")] == ["r2", "r1"]
    assert store.get_run("nope") is None
