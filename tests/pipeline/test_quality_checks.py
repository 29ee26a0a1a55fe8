"""Data quality checks (`api_config.endpoints.<name>.quality`) in whole runs against the sample API over HTTP, for
what only a whole run shows: each action's exit code, watermark and dead-letter files (warn, drop_row,
fail_window), a replay after a failed window, a stale run's freshness (judged against now, not again by a replay),
every check at once on every runner, and a failed child task holding the child's watermark. What each check finds
with each action (rows passed, dropped and failed windows, the report's quality section and counters) is tested on
CheckQuality alone in tests/transforms/test_check_quality.py.

The sample API's records are 48 a day from 2024-01-01 (ids 48 d + 1 .. 48 d + 48 on day d), so a run from
2024-01-02 to 2024-01-05 reads ids 49..96, 97..144 and 145..192, one daily window each. `Faults.quality_fields`
adds the fields the checks read (`sample_api.faults.QUALITY_FIELDS`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from sample_api import Dataset, SampleApi
from tests.pipeline.conftest import run_report
from tests.support import (
    RUNNER_MODES,
    items_config,
    read_jsonl,
    runner_mode_args,
    stored_watermark,
    t,
    write_yaml,
)
from tests.transforms.test_check_quality import ALL_IDS, RECENT_NEWEST, RECENT_START, all_checks, midnight, utc_text

RUN = ["--start_time", "2024-01-02", "--end_time", "2024-01-05"]
WINDOWS = [t("2024-01-02"), t("2024-01-03"), t("2024-01-04")]


def _window_of(record_id: int) -> datetime:
    return WINDOWS[(record_id - 49) // 48]


def _ids_in(windows: set[datetime]) -> list[int]:
    return [i for i in ALL_IDS if _window_of(i) in windows]


def _quality(check: dict) -> dict:
    return {"api_config": {"endpoints": {"items": {"quality": [check]}}}}


@pytest.fixture
def quality_api(sample_api):
    sample_api.set_faults(quality_fields=True, strip_fields=["title"], strip_every=100)
    return sample_api


def _outcome(report: dict) -> dict:
    [outcome] = report["quality"]
    return outcome


def _line(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("  quality: ")]


def test_a_warn_check_reports_its_failures_and_the_run_succeeds(quality_api, write_config, tmp_path, capsys):
    # ids 50, 75, 100, 125, 150 and 175 are "spam": 2 in each window
    check = {"check": "accepted_values", "field": "state", "values": ["open", "closed"], "action": "warn"}
    path, config = write_config(**_quality(check))
    code, report = run_report(tmp_path, "--config", str(path), *RUN)

    assert (code, sorted(row["id"] for row in read_jsonl(tmp_path / "out"))) == (0, ALL_IDS)
    assert read_jsonl(tmp_path / "dead_letter") == []
    assert stored_watermark(config) == t("2024-01-05")
    assert report["run"]["records_processed"] == len(ALL_IDS)
    assert _outcome(report) == {
        "endpoint": "items",
        "check": "accepted_values",
        "field": "state",
        "action": "warn",
        "rows_failed": 6,
        "windows_failed": 3,
        "index": 0,
    }
    assert (report["counters"]["quality_rows_failed"], report["counters"]["quality_windows_failed"]) == (6, 3)
    assert (
        report["counters"]["quality_items_0_accepted_values_rows"],
        report["counters"]["quality_items_0_accepted_values_windows"],
    ) == (6, 3)
    assert _line(capsys) == ["  quality: items accepted_values state warn: 6 rows failed, 3 windows with a failure"]


def test_rows_dropped_are_dead_lettered_and_do_not_hold_the_watermark(quality_api, write_config, tmp_path, capsys):
    # comments is -1 in ids 60, 90, 120, 150 and 180
    check = {"check": "range", "field": "comments", "min": 0, "max": 100000, "action": "drop_row"}
    path, config = write_config(**_quality(check))
    code, report = run_report(tmp_path, "--config", str(path), *RUN)

    failing = [60, 90, 120, 150, 180]
    assert code == 1
    written = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert written == [i for i in ALL_IDS if i not in failing]
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted(row["record"]["id"] for row in dead) == failing
    assert {(row["kind"], row["destination"], row["error_type"]) for row in dead} == {
        ("row", "quality", "QualityCheck")
    }
    assert all(row["error"].startswith("range comments: -1 < min 0") for row in dead)
    assert all(row["window_start"] == f"{_window_of(row['record']['id']):%Y-%m-%dT%H:%M:%SZ}" for row in dead)
    assert (report["run"]["dead_letter_rows"], report["run"]["records_processed"]) == (5, len(written))
    assert (report["counters"]["quality_rows_failed"], report["counters"]["quality_windows_failed"]) == (5, 3)
    assert _line(capsys) == ["  quality: items range comments drop_row: 5 rows failed, 3 windows with a failure"]
    assert stored_watermark(config) == t("2024-01-05")  # a dropped row does not hold the watermark


def test_fail_window_holds_the_watermark_and_a_replay_reads_the_window_again(
    quality_api, write_config, tmp_path, capsys
):
    path, config = write_config(**_quality({"check": "not_null", "field": "title", "action": "fail_window"}))
    code, report = run_report(tmp_path, "--config", str(path), *RUN)
    assert code == 1
    assert stored_watermark(config) == t("2024-01-03")
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == _ids_in({WINDOWS[0], WINDOWS[2]})
    [dead] = read_jsonl(tmp_path / "dead_letter")
    fields = ("kind", "status", "error_type", "pages_fetched", "records_fetched", "retries", "window_start")
    assert tuple(dead[name] for name in fields) == ("window", "failed", "QualityCheck", 0, 0, 0, "2024-01-03T00:00:00Z")
    assert dead["error"] == "quality not_null title (fail_window): 1 of 48 rows failed, first: not_null title: null"
    assert (report["run"]["windows_failed"], report["run"]["records_processed"]) == (1, 96)
    assert (report["counters"]["quality_rows_failed"], report["counters"]["quality_windows_failed"]) == (1, 1)
    assert _line(capsys) == ["  quality: items not_null title fail_window: 1 rows failed, 1 windows with a failure"]

    quality_api.set_faults(strip_every=0)  # the API now sends every title
    assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == ALL_IDS
    assert stored_watermark(config) == t("2024-01-04")


@contextmanager
def _recent(tmp_path, **changes) -> Iterator[tuple]:
    """The sample API with RECENT records, and a config for it (`items_config` with `changes`) written to a file."""
    with SampleApi(Dataset(start=RECENT_START, days=3, records_per_day=4)) as api:
        path = write_yaml(tmp_path / "pipeline.yaml", items_config(api.url, tmp_path, **changes))
        yield api, path, load_pipeline_config(path)


def _age_days(now: datetime) -> float:
    """RECENT_NEWEST's age at `now` in days, as a freshness message rounds it."""
    return round((now - RECENT_NEWEST) / timedelta(days=1), 1)


def test_freshness_of_a_stale_run_fails_its_last_window_and_a_replay_does_not_judge_it_again(tmp_path, capsys):
    quality = _quality({"check": "freshness", "max_age": "2d", "action": "fail_window"})
    with _recent(tmp_path, **quality) as (_, path, config):
        before = datetime.now(UTC)
        today = midnight(before)  # the run's last window starts at the start of its day
        code, report = run_report(tmp_path, "--config", str(path), "--start_time", utc_text(RECENT_START))
        after = datetime.now(UTC)
        assert code == 1
        # freshness is known once the run has read everything: the rows are written
        assert len(read_jsonl(tmp_path / "out")) == 12
        [row] = read_jsonl(tmp_path / "dead_letter")
        assert (row["window_start"], row["error_type"]) == (utc_text(today), "QualityCheck")
        head = f"quality freshness updated_at: the newest is {utc_text(RECENT_NEWEST)}, "
        assert row["error"].startswith(head) and row["error"].endswith("d old (max_age 2d) (fail_window)")
        age = float(row["error"].removeprefix(head).split("d old")[0])  # 3.25 d at midnight, more later in the day
        assert _age_days(before) <= age <= _age_days(after)
        assert (_outcome(report)["windows_failed"], report["counters"]["quality_windows_failed"]) == (1, 1)
        assert stored_watermark(config) == today  # the last window counts as failed

        # a replay reads the failed window again: its data is as old as before, and is not judged again
        capsys.readouterr()
        assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0
        assert "  quality: items freshness - fail_window: 0 rows failed, 0 windows with a failure" in (
            capsys.readouterr().out
        )
        assert stored_watermark(config) == datetime.fromisoformat(row["window_end"])


@pytest.mark.parametrize("mode", list(RUNNER_MODES))
def test_every_check_at_once_on_every_runner(quality_api, write_config, tmp_path, capsys, mode):
    path, config = write_config(
        api_config={"batch_size": 7, "endpoints": {"items": {"quality": all_checks()}}},
    )
    code, report = run_report(tmp_path, "--config", str(path), *RUN, *runner_mode_args(mode), "--check_elements")

    # ids 161..192 fail the range on id: the window of 2024-01-04 fails; 97 and 145 duplicate refs 96 and 144
    dropped = [60, 90, 97, 100, 120]  # not_null, range on comments, unique: those outside the failed window
    assert code == 1
    written = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(written) == [i for i in range(49, 145) if i not in dropped]
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted(row["record"]["id"] for row in dead if row["kind"] == "row") == dropped
    [window] = [row for row in dead if row["kind"] == "window"]
    assert window["window_start"] == "2024-01-04T00:00:00Z"
    assert window["error"] == ("quality range id (fail_window): 32 of 48 rows failed, first: range id: 161 > max 160")
    assert stored_watermark(config) == t("2024-01-04")
    assert [(o["check"], o["rows_failed"], o["windows_failed"]) for o in report["quality"]] == [
        ("not_null", 1, 1),
        ("accepted_values", 6, 3),
        ("range", 5, 3),
        ("regex", 9, 3),
        ("unique", 2, 2),
        ("row_count", 0, 0),
        ("freshness", 0, 0),  # a backfill: not judged
        ("range", 32, 1),
    ]
    assert report["counters"]["quality_rows_failed"] == 1 + 6 + 5 + 9 + 2 + 32
    assert report["counters"]["quality_windows_failed"] == 3  # each window had a failure of some check


def test_fail_window_on_a_child_endpoint_fails_the_child_task(tmp_path):
    """Items of 2024-01-02 (12 a day: ids 13..24) each have 5, 15 or 25 children; children numbered above 20
    fail a range check, so the child tasks of items 14, 17, 20 and 23 (25 children each) fail."""
    from sample_api import Dataset, SampleApi
    from sample_api.children import child_ids
    from tests.support import items_config, write_yaml

    with SampleApi(Dataset(records_per_day=12)) as api:
        config = items_config(api.url, tmp_path)
        config["api_config"]["endpoints"]["children"] = {
            "parent": "items",
            "path": "/items/{parent.id}/children",
            "records_path": "children",
            "primary_key": "id",
            "pagination": {"strategy": "page_number", "page_size": 10, "total_path": "total"},
            "quality": [{"check": "range", "field": "number", "max": 20, "action": "fail_window"}],
        }
        path = write_yaml(tmp_path / "pipeline.yaml", config)
        code, report = run_report(
            tmp_path, "--config", str(path), "--start_time", "2024-01-02", "--end_time", "2024-01-03"
        )

    failed_items = [14, 17, 20, 23]
    assert code == 1
    written = sorted(row["id"] for row in read_jsonl(tmp_path / "out" / "children"))
    assert written == sorted(c for item in range(13, 25) if item not in failed_items for c in child_ids(item))
    assert len(read_jsonl(tmp_path / "out" / "items")) == 12
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted(row["parent"]["key"] for row in dead) == failed_items
    assert {(row["kind"], row["endpoint"], row["error_type"]) for row in dead} == {
        ("window", "children", "QualityCheck")
    }
    assert [(o["rows_failed"], o["windows_failed"]) for o in report["quality"]] == [(4 * 5, 4)]
    assert report["watermarks"] == {
        "items": {"before": None, "after": "2024-01-03T00:00:00Z"},
        "children": {"before": None, "after": None},  # a failed child task holds the child's watermark
    }
