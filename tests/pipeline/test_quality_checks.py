"""Data quality checks (`api_config.endpoints.<name>.quality`) end to end, against the sample API over HTTP: each
check with each action it allows, what is written, what goes to the dead letter, the exit code, the watermark, the
report's quality section and the counters.

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
    merged,
    read_jsonl,
    runner_mode_args,
    stored_watermark,
    t,
    write_yaml,
)

RUN = ["--start_time", "2024-01-02", "--end_time", "2024-01-05"]
WINDOWS = [t("2024-01-02"), t("2024-01-03"), t("2024-01-04")]
ALL_IDS = list(range(49, 193))


def _window_of(record_id: int) -> datetime:
    return WINDOWS[(record_id - 49) // 48]


def _ids_in(windows: set[datetime]) -> list[int]:
    return [i for i in ALL_IDS if _window_of(i) in windows]


def _quality(check: dict) -> dict:
    return {"api_config": {"endpoints": {"items": {"quality": [check]}}}}


#: Each row-level check with a config for it, and the ids of 2024-01-02..05 that fail it.
ROW_CHECKS = {
    "not_null": ({"check": "not_null", "field": "title"}, [100]),
    "accepted_values": (
        {"check": "accepted_values", "field": "state", "values": ["open", "closed"]},
        [50, 75, 100, 125, 150, 175],
    ),
    "range": ({"check": "range", "field": "comments", "min": 0, "max": 100000}, [60, 90, 120, 150, 180]),
    "regex": ({"check": "regex", "field": "html_url", "pattern": "^https://"}, list(range(64, 193, 16))),
    "unique": ({"check": "unique", "field": "ref"}, [97, 145]),  # ref 96 and 144 are kept, in earlier windows
}
REASONS = {
    "not_null": "not_null title: null",
    "accepted_values": 'accepted_values state: "spam" is not accepted',
    "range": "range comments: -1 < min 0",
    "regex": "regex html_url: ",
    "unique": "unique ref: ",
}


@pytest.fixture
def quality_api(sample_api):
    sample_api.set_faults(quality_fields=True, strip_fields=["title"], strip_every=100)
    return sample_api


def _outcome(report: dict) -> dict:
    [outcome] = report["quality"]
    return outcome


@pytest.mark.parametrize("action", ["warn", "drop_row", "fail_window"])
@pytest.mark.parametrize("name", list(ROW_CHECKS))
def test_each_row_check_with_each_action(quality_api, write_config, tmp_path, capsys, name, action):
    check, failing = ROW_CHECKS[name]
    path, config = write_config(**_quality({**check, "action": action}))
    code, report = run_report(tmp_path, "--config", str(path), *RUN)

    written = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    dead = read_jsonl(tmp_path / "dead_letter")
    failed_windows = sorted({_window_of(i) for i in failing})
    outcome = _outcome(report)
    assert outcome == {
        "endpoint": "items",
        "check": name,
        "field": check["field"],
        "action": action,
        "rows_failed": len(failing),
        "windows_failed": len(failed_windows),
        "index": 0,
    }
    assert report["counters"]["quality_rows_failed"] == len(failing)
    assert report["counters"]["quality_windows_failed"] == len(failed_windows)
    assert report["run"]["records_processed"] == len(written)  # the rows handed to the outputs
    assert report["counters"][f"quality_items_0_{name}_rows"] == len(failing)
    assert report["counters"][f"quality_items_0_{name}_windows"] == len(failed_windows)
    line = f"  quality: items {name} {check['field']} {action}: {len(failing)} rows failed, "
    assert line + f"{len(failed_windows)} windows with a failure" in capsys.readouterr().out.splitlines()
    if action == "warn":
        assert (code, written, dead) == (0, ALL_IDS, [])
        assert stored_watermark(config) == t("2024-01-05")
    elif action == "drop_row":
        assert code == 1
        assert written == [i for i in ALL_IDS if i not in failing]
        assert sorted(row["record"]["id"] for row in dead) == failing
        assert {(row["kind"], row["destination"], row["error_type"]) for row in dead} == {
            ("row", "quality", "QualityCheck")
        }
        assert all(row["error"].startswith(REASONS[name]) for row in dead)
        assert all(
            row["window_start"] == _window_of(row["record"]["id"]).strftime("%Y-%m-%dT%H:%M:%SZ") for row in dead
        )
        assert report["run"]["dead_letter_rows"] == len(failing)
        assert stored_watermark(config) == t("2024-01-05")  # a dropped row does not hold the watermark
    else:
        assert code == 1
        assert written == _ids_in(set(WINDOWS) - set(failed_windows))
        assert [
            (
                row["kind"],
                row["status"],
                row["error_type"],
                row["pages_fetched"],
                row["records_fetched"],
                row["retries"],
            )
            for row in dead
        ] == [("window", "failed", "QualityCheck", 0, 0, 0)] * len(failed_windows)
        assert sorted(row["window_start"] for row in dead) == [f"{w:%Y-%m-%dT%H:%M:%SZ}" for w in failed_windows]
        assert all(row["error"].startswith(f"quality {name} {check['field']} (fail_window): ") for row in dead)
        assert report["run"]["windows_failed"] == len(failed_windows)
        # the watermark holds at the first failed window's start (none is stored when the first window failed)
        assert stored_watermark(config) == (failed_windows[0] if failed_windows[0] > WINDOWS[0] else None)


def test_fail_window_holds_the_watermark_and_a_replay_reads_the_window_again(quality_api, write_config, tmp_path):
    path, config = write_config(**_quality({"check": "not_null", "field": "title", "action": "fail_window"}))
    assert main(["run", "--config", str(path), *RUN]) == 1
    assert stored_watermark(config) == t("2024-01-03")
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == _ids_in({WINDOWS[0], WINDOWS[2]})

    quality_api.set_faults(strip_every=0)  # the API now sends every title
    assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == ALL_IDS
    assert stored_watermark(config) == t("2024-01-04")


@pytest.mark.parametrize("action", ["warn", "fail_window"])
def test_row_count_fails_an_empty_window(quality_api, write_config, tmp_path, capsys, action):
    # the data set ends on 2024-01-14: the window of 2024-01-15 has no row
    path, config = write_config(**_quality({"check": "row_count", "min": 1, "action": action}))
    code, report = run_report(tmp_path, "--config", str(path), "--start_time", "2024-01-13", "--end_time", "2024-01-16")

    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == list(range(577, 673))
    assert _outcome(report) == {
        "endpoint": "items",
        "check": "row_count",
        "field": None,
        "action": action,
        "rows_failed": 0,
        "windows_failed": 1,
        "index": 0,
    }
    assert report["counters"]["quality_items_0_row_count_windows"] == 1
    assert report["counters"]["quality_rows_failed"] == 0
    assert report["counters"]["quality_windows_failed"] == 1
    assert f"  quality: items row_count - {action}: 0 rows failed, 1 windows with a failure" in capsys.readouterr().out
    dead = read_jsonl(tmp_path / "dead_letter")
    if action == "warn":
        assert (code, dead) == (0, [])
        assert stored_watermark(config) == t("2024-01-16")
    else:
        assert code == 1
        assert [(row["window_start"], row["error"]) for row in dead] == [
            ("2024-01-15T00:00:00Z", "quality row_count: 0 rows < min 1 (fail_window)")
        ]
        assert stored_watermark(config) == t("2024-01-15")


def test_row_count_max_fails_full_windows_and_holds_their_rows(quality_api, write_config, tmp_path):
    path, config = write_config(**_quality({"check": "row_count", "min": 1, "max": 47, "action": "fail_window"}))
    code, report = run_report(tmp_path, "--config", str(path), "--start_time", "2024-01-13", "--end_time", "2024-01-16")
    assert code == 1
    assert read_jsonl(tmp_path / "out") == []
    assert sorted(row["window_start"] for row in read_jsonl(tmp_path / "dead_letter")) == [
        "2024-01-13T00:00:00Z",
        "2024-01-14T00:00:00Z",
        "2024-01-15T00:00:00Z",
    ]
    assert _outcome(report)["windows_failed"] == 3
    assert stored_watermark(config) is None


@pytest.mark.parametrize("action", ["warn", "fail_window"])
def test_freshness_is_not_judged_in_a_backfill(quality_api, write_config, tmp_path, capsys, action):
    # the run's windows end on 2024-01-05, long before now - 2d: old data read again is not stale data
    path, config = write_config(**_quality({"check": "freshness", "max_age": "2d", "action": action}))
    code, report = run_report(tmp_path, "--config", str(path), *RUN)

    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == ALL_IDS
    assert (code, read_jsonl(tmp_path / "dead_letter")) == (0, [])
    assert _outcome(report) == {
        "endpoint": "items",
        "check": "freshness",
        "field": None,
        "action": action,
        "rows_failed": 0,
        "windows_failed": 0,
        "index": 0,
    }
    assert "quality_items_0_freshness_windows" not in report["counters"]
    assert report["counters"]["quality_windows_failed"] == 0
    assert f"  quality: items freshness - {action}: 0 rows failed, 0 windows with a failure" in capsys.readouterr().out
    assert stored_watermark(config) == t("2024-01-05")


#: Records of the last days: 4 a day (every 6 h) over the 3 days from 6 days ago, so the newest is 3 d 6 h old.
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
RECENT_START = TODAY - timedelta(days=6)
RECENT_NEWEST = RECENT_START + timedelta(hours=6 * 11)


@contextmanager
def _recent(tmp_path, **changes) -> Iterator[tuple]:
    """The sample API with RECENT records, and a config for it (`items_config` with `changes`) written to a file."""
    with SampleApi(Dataset(start=RECENT_START, days=3, records_per_day=4)) as api:
        path = write_yaml(tmp_path / "pipeline.yaml", items_config(api.url, tmp_path, **changes))
        yield api, path, load_pipeline_config(path)


def _age_days(now: datetime) -> float:
    """RECENT_NEWEST's age at `now` in days, as a freshness message rounds it."""
    return round((now - RECENT_NEWEST) / timedelta(days=1), 1)


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def test_freshness_of_a_stale_run_fails_its_last_window_and_a_replay_does_not_judge_it_again(tmp_path, capsys):
    quality = _quality({"check": "freshness", "max_age": "2d", "action": "fail_window"})
    with _recent(tmp_path, **quality) as (_, path, config):
        before = datetime.now(UTC)
        code, report = run_report(tmp_path, "--config", str(path), "--start_time", _utc(RECENT_START))
        after = datetime.now(UTC)
        assert code == 1
        # freshness is known once the run has read everything: the rows are written
        assert len(read_jsonl(tmp_path / "out")) == 12
        [row] = read_jsonl(tmp_path / "dead_letter")
        assert (row["window_start"], row["error_type"]) == (_utc(TODAY), "QualityCheck")
        head = f"quality freshness updated_at: the newest is {_utc(RECENT_NEWEST)}, "
        assert row["error"].startswith(head) and row["error"].endswith("d old (max_age 2d) (fail_window)")
        age = float(row["error"].removeprefix(head).split("d old")[0])  # 3.25 d at midnight, more later in the day
        assert _age_days(before) <= age <= _age_days(after)
        assert (_outcome(report)["windows_failed"], report["counters"]["quality_windows_failed"]) == (1, 1)
        assert stored_watermark(config) == TODAY  # the last window counts as failed

        # a replay reads the failed window again: its data is as old as before, and is not judged again
        capsys.readouterr()
        assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0
        assert "  quality: items freshness - fail_window: 0 rows failed, 0 windows with a failure" in (
            capsys.readouterr().out
        )
        assert stored_watermark(config) == datetime.fromisoformat(row["window_end"])


@pytest.mark.parametrize(("days_ago", "judged"), [(3, False), (1, True)])
def test_freshness_is_judged_when_the_run_ends_within_max_age(tmp_path, days_ago, judged):
    quality = _quality({"check": "freshness", "max_age": "2d", "action": "fail_window"})
    with _recent(tmp_path, **quality) as (_, path, _config):
        end = _utc(TODAY - timedelta(days=days_ago))
        code, report = run_report(
            tmp_path, "--config", str(path), "--start_time", _utc(RECENT_START), "--end_time", end
        )
    windows = [row["window_start"] for row in read_jsonl(tmp_path / "dead_letter")]
    last = _utc(TODAY - timedelta(days=days_ago + 1))
    assert (code, windows, _outcome(report)["windows_failed"]) == ((1, [last], 1) if judged else (0, [], 0))


def test_freshness_reads_the_timestamp_field_as_renamed(tmp_path):
    changes = merged(
        _quality({"check": "freshness", "max_age": "2d", "action": "fail_window"}),
        {"api_config": {"transform": {"rename": {"updated_at": "modified"}}}},
    )
    with _recent(tmp_path, **changes) as (_, path, _config):
        code, _report = run_report(tmp_path, "--config", str(path), "--start_time", _utc(RECENT_START))
    [row] = read_jsonl(tmp_path / "dead_letter")
    assert code == 1
    assert row["error"].startswith(f"quality freshness modified: the newest is {_utc(RECENT_NEWEST)}, ")


def test_freshness_is_not_judged_by_a_run_that_plans_no_window(quality_api, write_config, tmp_path, capsys):
    # the first window would start in the future: the run plans none and reads nothing, so nothing fails
    path, config = write_config(
        api_config={
            "watermark": {"initial_watermark": "2099-01-01T00:00:00Z"},
            "endpoints": {"items": {"quality": [{"check": "freshness", "max_age": "2d", "action": "fail_window"}]}},
        }
    )
    code, report = run_report(tmp_path, "--config", str(path))
    assert (code, read_jsonl(tmp_path / "dead_letter")) == (0, [])
    assert (_outcome(report)["windows_failed"], report["counters"]["quality_windows_failed"]) == (0, 0)
    assert stored_watermark(config) is None


def test_a_fresh_run_passes_freshness(quality_api, write_config, tmp_path):
    path, config = write_config(**_quality({"check": "freshness", "max_age": "100000d", "action": "fail_window"}))
    code, report = run_report(tmp_path, "--config", str(path), *RUN)
    assert (code, _outcome(report)["windows_failed"]) == (0, 0)
    assert stored_watermark(config) == t("2024-01-05")


def _all_checks() -> list[dict]:
    return [
        {"check": "not_null", "field": "title", "action": "drop_row"},
        {"check": "accepted_values", "field": "state", "values": ["open", "closed"], "action": "warn"},
        {"check": "range", "field": "comments", "min": 0, "max": 100000, "action": "drop_row"},
        {"check": "regex", "field": "html_url", "pattern": "^https://", "action": "warn"},
        {"check": "unique", "field": "ref", "action": "drop_row"},
        {"check": "row_count", "min": 1, "action": "warn"},
        {"check": "freshness", "max_age": "2d", "action": "warn"},
        {"check": "range", "field": "id", "max": 160, "action": "fail_window"},
    ]


@pytest.mark.parametrize("mode", list(RUNNER_MODES))
def test_every_check_at_once_on_every_runner(quality_api, write_config, tmp_path, capsys, mode):
    path, config = write_config(
        api_config={"batch_size": 7, "endpoints": {"items": {"quality": _all_checks()}}},
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


def test_unique_keeps_a_row_no_drop_row_check_drops(quality_api, write_config, tmp_path):
    # refs 96 and 144 are in rows 96 and 97, and 144 and 145; rows 96 and 144 (multiples of 16) fail the regex,
    # which drops them: rows 97 and 145 are kept, so that every ref lands in the output
    path, _config = write_config(
        api_config={
            "endpoints": {
                "items": {
                    "quality": [
                        {"check": "regex", "field": "html_url", "pattern": "^https://", "action": "drop_row"},
                        {"check": "unique", "field": "ref", "action": "drop_row"},
                    ]
                }
            }
        }
    )
    code, report = run_report(tmp_path, "--config", str(path), *RUN)

    sixteens = list(range(64, 193, 16))
    assert code == 1
    written = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert written == [i for i in ALL_IDS if i not in sixteens]
    assert {row["ref"] for row in read_jsonl(tmp_path / "out")} >= {96, 144}
    dead = {row["record"]["id"]: row["error"] for row in read_jsonl(tmp_path / "dead_letter")}
    assert sorted(dead) == sixteens
    assert dead[96] == (
        'regex html_url: "http://sample.test/items/96" does not match; '
        "unique ref: 96 is also in a row kept (window from 2024-01-03T00:00:00Z)"
    )
    assert [(o["check"], o["rows_failed"], o["windows_failed"]) for o in report["quality"]] == [
        ("regex", 9, 3),
        ("unique", 2, 2),
    ]


def test_row_count_does_not_judge_a_window_whose_fetch_failed(quality_api, write_config, tmp_path):
    quality_api.set_faults(fail_since=["2024-01-03T00:00:00Z"])
    path, config = write_config(**_quality({"check": "row_count", "min": 1, "action": "fail_window"}))
    code, report = run_report(tmp_path, "--config", str(path), *RUN)

    assert code == 1
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == _ids_in({WINDOWS[0], WINDOWS[2]})
    # one dead-letter row for the window: its fetch's, not a second one of row_count
    [dead] = read_jsonl(tmp_path / "dead_letter")
    assert (dead["kind"], dead["window_start"]) == ("window", "2024-01-03T00:00:00Z")
    assert dead["error_type"] != "QualityCheck"
    assert (_outcome(report)["windows_failed"], report["counters"]["quality_windows_failed"]) == (0, 0)
    assert report["run"]["windows_failed"] == 1
    assert report["run"]["endpoint_stats"]["items"]["errors"] == 1
    assert stored_watermark(config) == t("2024-01-03")


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
