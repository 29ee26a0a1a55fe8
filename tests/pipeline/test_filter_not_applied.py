"""A time filter the API did not apply fails its windows in a whole run: exit code 1, the watermark held, the run
report, the run record and the dead letters, on every runner mode. TransformRecords and JudgePlacement alone are
in tests/transforms/test_judge_placement.py."""

from __future__ import annotations

import pytest

from beam_api_pipeline.control.store import open_store, opened_store
from tests.pipeline.conftest import run_report
from tests.support import RUNNER_MODES, read_jsonl, runner_mode_args, stored_watermark, t


def _error(window: str, since: str, until: str) -> str:
    return (
        f"items {window}: 624 of 672 records the API returned are outside the window it was asked for or have no "
        "readable timestamp (more than watermark.max_outside_share 0.5): the API did not filter by "
        f"since={since}, until={until}; for example updated_at='2024-01-01T00:00:00Z' (read as 2024-01-01T00:00:00Z)"
    )


@pytest.mark.parametrize("mode", RUNNER_MODES)
def test_an_api_that_ignores_the_window_filter_fails_the_windows_and_holds_the_watermark(
    sample_api, write_config, tmp_path, mode
):
    """Case F.15 from the failure side: the API serves all its 672 records whatever `since` and `until` say. Each
    window keeps its own 48 (written), counts the other 624 as outside, and fails; the watermark stays."""
    path, config = write_config(api_config={"pagination": {"page_size": 100}})
    with opened_store(config.watermark_store) as store:
        store.advance_watermark("sample_items", "items", t("2024-01-03"), "earlier-run")
    sample_api.set_faults(ignore_window_filter=True)

    end = ("--end_time", "2024-01-05T00:00:00Z")
    code, report = run_report(tmp_path, "--config", str(path), *end, *runner_mode_args(mode))

    assert code == 1
    assert stored_watermark(config) == t("2024-01-03")
    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert ids == sample_api.dataset.ids_between(t("2024-01-03"), t("2024-01-05"))
    run = report["run"]
    assert (run["status"], run["windows_done"], run["windows_failed"]) == ("failed", 0, 2)
    assert run["errors"] == [
        _error("2024-01-03T00:00:00Z/2024-01-04T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"),
        _error("2024-01-04T00:00:00Z/2024-01-05T00:00:00Z", "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"),
    ]
    stats = report["endpoints"]["items"]
    figures = ("records", "written", "outside", "invalid", "windows_failed", "rate_limited_429")
    assert {name: stats[name] for name in figures} == {
        "records": 1344,
        "written": 96,
        "outside": 1248,
        "invalid": 0,
        "windows_failed": 2,
        "rate_limited_429": 0,
    }
    recorded = open_store(config.watermark_store).get_run(run["run_id"]).endpoint_stats["items"]
    assert recorded == run["endpoint_stats"]["items"] == stats
    assert (report["counters"]["records_outside_window"], report["counters"]["windows_not_filtered"]) == (1248, 2)
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted((row["kind"], row["error_type"]) for row in dead) == [("window", "FilterNotApplied")] * 2
