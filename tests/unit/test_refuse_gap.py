"""Run planning never lets the range jump (issue 27, E.12): `refuse_gap`, the plans that apply it, and a
backfill's commit that leaves the watermark."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.control.watermarks import WindowOutcome
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.run_plan import make_plan, make_streaming_plan, refuse_gap, watermark_to_commit
from tests.support import items_config, t

NOW = t("2024-01-10")
MICROSECOND, SECOND = timedelta(microseconds=1), timedelta(seconds=1)


def gap_line(endpoint: str, watermark: str, start: str) -> str:
    return (
        f"--start_time: {start} is after the watermark of {endpoint}, {watermark}: [{watermark}, {start}) would "
        "never be read. Read the range without moving the watermark with --backfill, or skip the gap on purpose "
        f"with `watermark set --endpoint {endpoint} --to {start}`"
    )


def test_a_start_after_any_stored_watermark_is_refused_one_line_per_endpoint():
    watermarks = {"orders": t("2024-01-04"), "items": t("2024-01-03"), "users": None, "tags": t("2024-01-05")}
    with pytest.raises(ConfigError) as refused:
        refuse_gap(watermarks, t("2024-01-05"), MICROSECOND)
    assert refused.value.problems == [
        gap_line("items", "2024-01-03T00:00:00Z", "2024-01-05T00:00:00Z"),
        gap_line("orders", "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"),
    ]


@pytest.mark.parametrize("start", [None, t("2024-01-03"), t("2024-01-02")])
def test_no_start_or_a_start_at_or_before_the_watermark_is_no_gap(start):
    refuse_gap({"items": t("2024-01-03"), "users": None}, start, MICROSECOND)


@pytest.fixture
def store(tmp_path: Path):
    opened = LocalWatermarkStore(tmp_path / "c.db")
    opened.advance_watermark("sample_items", "items", t("2024-01-03"), "r0")
    yield opened
    opened.close()


def config(tmp_path: Path, **changes) -> PipelineConfig:
    return PipelineConfig.model_validate(items_config("http://127.0.0.1:9", tmp_path, **changes))


def test_the_start_is_compared_floored_to_the_grid_as_the_run_reads_from_it():
    """Under `epoch` a run given 10:00:00.5 reads from 10:00:00, the watermark: no gap."""
    refuse_gap({"items": t("2024-01-03T10:00:00")}, t("2024-01-03T10:00:00.5"), SECOND)
    with pytest.raises(ConfigError) as refused:
        refuse_gap({"items": t("2024-01-03T10:00:00")}, t("2024-01-03T10:00:01.5"), SECOND)
    assert refused.value.problems == [gap_line("items", "2024-01-03T10:00:00Z", "2024-01-03T10:00:01Z")]


def test_plans_compare_the_floored_start(store, tmp_path):
    """The store holds 2024-01-03T00:00:00Z; under `epoch` a start half a second later reads from it."""
    epoch = {"watermark": {"time_format": "epoch"}}
    plan = make_plan(config(tmp_path, api_config=epoch), store, t("2024-01-03T00:00:00.5"), t("2024-01-04"), now=NOW)
    assert [task.window for task in plan.tasks] == [Window(t("2024-01-03"), t("2024-01-04"))]
    streaming = config(tmp_path, api_config=epoch, streaming={"enabled": True, "poll_interval": "1m"})
    assert make_streaming_plan(streaming, store, t("2024-01-03T00:00:00.5"), now=NOW).tasks == []


def test_batch_and_streaming_plans_refuse_the_gap_and_a_backfill_plans_it(store, tmp_path):
    batch = config(tmp_path)
    with pytest.raises(ConfigError, match=r"^--start_time: 2024-01-05T00:00:00Z is after"):
        make_plan(batch, store, t("2024-01-05"), t("2024-01-06"), now=NOW)
    streaming = config(tmp_path, streaming={"enabled": True, "poll_interval": "1m"})
    with pytest.raises(ConfigError, match=r"^--start_time: 2024-01-05T00:00:00Z is after"):
        make_streaming_plan(streaming, store, t("2024-01-05"), now=NOW)

    backfill = make_plan(batch, store, t("2024-01-05"), t("2024-01-06"), now=NOW, backfill=True)
    assert (backfill.is_backfill, [task.window for task in backfill.tasks]) == (
        True,
        [Window(t("2024-01-05"), t("2024-01-06"))],
    )
    with pytest.raises(ConfigError, match=r"^--backfill: give the range to read with --start_time"):
        make_plan(batch, store, None, t("2024-01-06"), now=NOW, backfill=True)


def test_a_backfill_never_moves_the_watermark(store, tmp_path):
    plan = make_plan(config(tmp_path), store, t("2024-01-02"), t("2024-01-06"), now=NOW)
    outcomes = [WindowOutcome(task.window, True) for task in plan.tasks]
    assert watermark_to_commit(plan, "items", outcomes) == t("2024-01-06")
    assert watermark_to_commit(replace(plan, is_backfill=True), "items", outcomes) is None
