"""CheckQuality alone (behind TransformRecords, as in the run's graph), in a TestPipeline on the local runner: the
rows it passes, the rows it drops (dead-letter rows), the windows it fails (their dead-letter rows), the rows it
counts, and the counters the run report's quality section and line are made of (`quality_outcomes`).

The records are the sample API's, as it answers them with `Faults.quality_fields` (`sample_api.faults.QUALITY_FIELDS`)
and every 100th title stripped: 48 a day from 2024-01-01 (ids 48 d + 1 .. 48 d + 48 on day d), so the windows of
2024-01-02, 03 and 04 hold ids 49..96, 97..144 and 145..192. Whole runs of the same checks (exit code, watermark,
replay, every runner) are in tests/pipeline/test_quality_checks.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.run_plan import RunPlan, WindowResult, WindowStatus, WindowTask
from beam_api_pipeline.records.dead_letters import window_dead_letter
from beam_api_pipeline.records.quality import DROPPED, FAILED_WINDOWS, ROWS, ROWS_WRITTEN, CheckQuality
from beam_api_pipeline.records.quality_rules import quality_outcomes
from beam_api_pipeline.records.transform import TransformRecords
from sample_api import Dataset
from sample_api.faults import Faults
from tests.support import merged
from tests.transform_support import Kept, api_records, config, done, pipeline, run, task

DAYS = [task("2024-01-02", "2024-01-03"), task("2024-01-03", "2024-01-04"), task("2024-01-04", "2024-01-05")]
ALL_IDS = list(range(49, 193))
FAULTS = Faults(quality_fields=True, strip_fields=["title"], strip_every=100)


def _day_of(record_id: int) -> WindowTask:
    return DAYS[(record_id - 49) // 48]


def _ids_in(days: list[WindowTask]) -> list[int]:
    return [i for i in ALL_IDS if _day_of(i) in days]


def _start(day: WindowTask) -> str:
    return f"{day.window.start:%Y-%m-%dT%H:%M:%SZ}"


def _quality(*checks: dict, **changes: Any) -> dict:
    return merged({"api_config": {"endpoints": {"items": {"quality": list(checks)}}}}, changes)


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


class Checked:
    """CheckQuality of `windows` (their records as the sample API answers them, read completely unless in
    `fetch_failed`) under the config `changes`, run; its outputs and counters are collected as plain lists."""

    def __init__(
        self,
        tmp_path,
        changes: dict,
        windows: list[WindowTask] = DAYS,
        dataset: Dataset | None = None,
        fetch_failed: tuple[WindowTask, ...] = (),
        plan: RunPlan | None = None,
    ):
        self.config = config(tmp_path, **changes)
        dataset = dataset or Dataset()
        plan = plan or RunPlan("r1", "sample_items", datetime.now(UTC), list(windows))
        pages = [page for window in windows for page in api_records(dataset, FAULTS, window)]
        results = [
            WindowResult(w, WindowStatus.FAILED, 0, 0, error="GET answered 500").to_element()
            if w in fetch_failed
            else done(w)
            for w in windows
        ]
        p = pipeline()
        records = p | "Pages" >> beam.Create(pages)
        shaped = records | TransformRecords(self.config, "r1")
        fetched = p | "Results" >> beam.Create(results)
        out = (shaped["rows"]["items"], fetched) | CheckQuality(self.config, plan, "items")
        failed = out[FAILED_WINDOWS] | "Dead" >> beam.Map(
            lambda r: window_dead_letter("sample_items", "r1", WindowResult.from_element(r))
        )
        found = {"batches": out[ROWS], "dropped": out[DROPPED], "failed": failed, "rows_written": out[ROWS_WRITTEN]}
        named = [pcoll | f"Name[{name}]" >> beam.Map(lambda e, n=name: (n, e)) for name, pcoll in found.items()]
        assert_that(named | "AllFound" >> beam.Flatten(), Kept(tmp_path / "found.json"))  # one check: fewer stages
        self.counters = run(p)
        kept: dict[str, list] = {name: [] for name in found}
        for name, element in Kept(tmp_path / "found.json").elements():
            kept[name].append(element)
        self.batches = kept["batches"]
        self.ids = sorted(row["id"] for batch in self.batches for row in batch)
        self.dropped = sorted(kept["dropped"], key=lambda row: row["record"]["id"])
        self.failed = sorted(kept["failed"], key=lambda row: row["window_start"])
        self.rows_written = sum(kept["rows_written"])  # a count per batch

    def outcomes(self) -> list[dict]:
        return [o.to_dict() for o in quality_outcomes(self.config.api_config.endpoints, self.counters)]

    def lines(self) -> list[str]:
        return [o.line() for o in quality_outcomes(self.config.api_config.endpoints, self.counters)]


@pytest.mark.parametrize("action", ["warn", "drop_row", "fail_window"])
@pytest.mark.parametrize("name", list(ROW_CHECKS))
def test_each_row_check_with_each_action(tmp_path, name, action):
    check, failing = ROW_CHECKS[name]
    found = Checked(tmp_path, _quality({**check, "action": action}))

    failed_days = sorted({_day_of(i) for i in failing}, key=lambda day: day.window.start)
    assert found.outcomes() == [
        {
            "endpoint": "items",
            "check": name,
            "field": check["field"],
            "action": action,
            "rows_failed": len(failing),
            "windows_failed": len(failed_days),
            "index": 0,
        }
    ]
    assert found.counters["quality_rows_failed"] == len(failing)
    assert found.counters["quality_windows_failed"] == len(failed_days)
    assert found.counters[f"quality_items_0_{name}_rows"] == len(failing)
    assert found.counters[f"quality_items_0_{name}_windows"] == len(failed_days)
    line = f"  quality: items {name} {check['field']} {action}: {len(failing)} rows failed, "
    assert found.lines() == [line + f"{len(failed_days)} windows with a failure"]
    assert found.rows_written == len(found.ids)  # the rows handed to the outputs (the run's records_processed)
    if action == "warn":
        assert (found.ids, found.dropped, found.failed) == (ALL_IDS, [], [])
    elif action == "drop_row":
        assert found.ids == [i for i in ALL_IDS if i not in failing]
        assert [row["record"]["id"] for row in found.dropped] == failing
        assert {(row["kind"], row["destination"], row["error_type"]) for row in found.dropped} == {
            ("row", "quality", "QualityCheck")
        }
        assert all(row["error"].startswith(REASONS[name]) for row in found.dropped)
        assert [row["window_start"] for row in found.dropped] == [_start(_day_of(i)) for i in failing]
        assert found.failed == []  # a dropped row does not fail (nor hold) its window
    else:
        assert found.ids == _ids_in([d for d in DAYS if d not in failed_days])
        assert found.dropped == []
        assert [
            (
                row["kind"],
                row["status"],
                row["error_type"],
                row["pages_fetched"],
                row["records_fetched"],
                row["retries"],
            )
            for row in found.failed
        ] == [("window", "failed", "QualityCheck", 0, 0, 0)] * len(failed_days)
        assert [row["window_start"] for row in found.failed] == [_start(day) for day in failed_days]
        assert all(row["error"].startswith(f"quality {name} {check['field']} (fail_window): ") for row in found.failed)


def test_not_null_fail_window_fails_the_window_of_2024_01_03_only(tmp_path):
    """What the whole run's replay test starts from: the window of 2024-01-03 holds id 100, which has no title."""
    found = Checked(tmp_path, _quality({"check": "not_null", "field": "title", "action": "fail_window"}))
    assert found.ids == _ids_in([DAYS[0], DAYS[2]])
    assert [(row["window_start"], row["error"]) for row in found.failed] == [
        (
            "2024-01-03T00:00:00Z",
            "quality not_null title (fail_window): 1 of 48 rows failed, first: not_null title: null",
        )
    ]


#: The data set ends on 2024-01-14: the window of 2024-01-15 has no row.
LAST_DAYS = [task("2024-01-13", "2024-01-14"), task("2024-01-14", "2024-01-15"), task("2024-01-15", "2024-01-16")]


@pytest.mark.parametrize("action", ["warn", "fail_window"])
def test_row_count_fails_an_empty_window(tmp_path, action):
    found = Checked(tmp_path, _quality({"check": "row_count", "min": 1, "action": action}), windows=LAST_DAYS)

    assert found.ids == list(range(577, 673))
    assert found.outcomes() == [
        {
            "endpoint": "items",
            "check": "row_count",
            "field": None,
            "action": action,
            "rows_failed": 0,
            "windows_failed": 1,
            "index": 0,
        }
    ]
    assert found.counters["quality_items_0_row_count_windows"] == 1
    assert found.counters.get("quality_rows_failed", 0) == 0
    assert found.counters["quality_windows_failed"] == 1
    assert found.lines() == [f"  quality: items row_count - {action}: 0 rows failed, 1 windows with a failure"]
    assert found.dropped == []
    if action == "warn":
        assert found.failed == []
    else:
        assert [(row["window_start"], row["error"]) for row in found.failed] == [
            ("2024-01-15T00:00:00Z", "quality row_count: 0 rows < min 1 (fail_window)")
        ]


def test_row_count_max_fails_full_windows_and_holds_their_rows(tmp_path):
    check = {"check": "row_count", "min": 1, "max": 47, "action": "fail_window"}
    found = Checked(tmp_path, _quality(check), windows=LAST_DAYS)
    assert found.ids == []
    assert [row["window_start"] for row in found.failed] == [
        "2024-01-13T00:00:00Z",
        "2024-01-14T00:00:00Z",
        "2024-01-15T00:00:00Z",
    ]
    assert found.outcomes()[0]["windows_failed"] == 3


def test_row_count_does_not_judge_a_window_whose_fetch_failed(tmp_path):
    # the fetch of 2024-01-03 failed (its records never came): its window is failed once, by the fetch's result
    found = Checked(
        tmp_path,
        _quality({"check": "row_count", "min": 1, "action": "fail_window"}),
        windows=DAYS,
        dataset=_without(Dataset(), DAYS[1]),
        fetch_failed=(DAYS[1],),
    )
    assert found.ids == _ids_in([DAYS[0], DAYS[2]])
    assert found.failed == []  # no second failure of row_count for the window
    assert found.outcomes()[0]["windows_failed"] == 0
    assert found.counters.get("quality_windows_failed", 0) == 0


def _without(dataset: Dataset, day: WindowTask) -> Dataset:
    for record in dataset.window(day.window.start, day.window.end):
        dataset.move_record(record.id, None)
    return dataset


@pytest.mark.parametrize("action", ["warn", "fail_window"])
def test_freshness_is_not_judged_in_a_backfill(tmp_path, action):
    # the windows end on 2024-01-05, long before now - 2d: old data read again is not stale data
    found = Checked(tmp_path, _quality({"check": "freshness", "max_age": "2d", "action": action}))

    assert (found.ids, found.dropped, found.failed) == (ALL_IDS, [], [])
    assert found.outcomes() == [
        {
            "endpoint": "items",
            "check": "freshness",
            "field": None,
            "action": action,
            "rows_failed": 0,
            "windows_failed": 0,
            "index": 0,
        }
    ]
    assert "quality_items_0_freshness_windows" not in found.counters
    assert found.counters.get("quality_windows_failed", 0) == 0
    assert found.lines() == [f"  quality: items freshness - {action}: 0 rows failed, 0 windows with a failure"]


def midnight(moment: datetime) -> datetime:
    """The start of `moment`'s day (UTC), where a run's daily windows begin."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


#: Records of the last days: 4 a day (every 6 h) over the 3 days from 6 days ago, so the newest is 3 d 6 h old.
#: (TODAY is when the tests were collected: a test that compares with the clock of its own run reads the day
#: again, `midnight(datetime.now(UTC))`, as a suite may cross midnight.)
TODAY = midnight(datetime.now(UTC))
RECENT_START = TODAY - timedelta(days=6)
RECENT_NEWEST = RECENT_START + timedelta(hours=6 * 11)


def _recent_days(end: datetime) -> list[WindowTask]:
    days = (end - RECENT_START).days
    return [WindowTask("items", _window(RECENT_START + timedelta(days=d))) for d in range(days)]


def _window(start: datetime) -> Window:
    return Window(start, start + timedelta(days=1))


def utc_text(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def _recent(tmp_path, changes: dict, end: datetime) -> Checked:
    return Checked(
        tmp_path, changes, windows=_recent_days(end), dataset=Dataset(start=RECENT_START, days=3, records_per_day=4)
    )


def test_freshness_of_a_stale_run_fails_its_last_window(tmp_path):
    before = datetime.now(UTC)
    found = _recent(tmp_path, _quality({"check": "freshness", "max_age": "2d", "action": "fail_window"}), TODAY)
    after = datetime.now(UTC)
    assert len(found.ids) == 12  # freshness is known once the run has read everything: the rows go on
    [row] = found.failed
    assert (row["window_start"], row["error_type"]) == (utc_text(TODAY - timedelta(days=1)), "QualityCheck")
    head = f"quality freshness updated_at: the newest is {utc_text(RECENT_NEWEST)}, "
    assert row["error"].startswith(head) and row["error"].endswith("d old (max_age 2d) (fail_window)")
    age = float(row["error"].removeprefix(head).split("d old")[0])
    assert _age(before) <= age <= _age(after)
    assert (found.outcomes()[0]["windows_failed"], found.counters["quality_windows_failed"]) == (1, 1)


def _age(now: datetime) -> float:
    """RECENT_NEWEST's age at `now` in days, as a freshness message rounds it."""
    return round((now - RECENT_NEWEST) / timedelta(days=1), 1)


@pytest.mark.parametrize(("days_ago", "judged"), [(3, False), (1, True)])
def test_freshness_is_judged_when_the_run_ends_within_max_age(tmp_path, days_ago, judged):
    changes = _quality({"check": "freshness", "max_age": "2d", "action": "fail_window"})
    today = midnight(datetime.now(UTC))  # the run's end is then less than 1 day + 1 day from its clock
    found = _recent(tmp_path, changes, today - timedelta(days=days_ago))
    windows = [row["window_start"] for row in found.failed]
    last = utc_text(today - timedelta(days=days_ago + 1))
    assert (windows, found.outcomes()[0]["windows_failed"]) == (([last], 1) if judged else ([], 0))


def test_freshness_reads_the_timestamp_field_as_renamed(tmp_path):
    changes = _quality(
        {"check": "freshness", "max_age": "2d", "action": "fail_window"},
        api_config={"transform": {"rename": {"updated_at": "modified"}}},
    )
    found = _recent(tmp_path, changes, TODAY)
    [row] = found.failed
    assert row["error"].startswith(f"quality freshness modified: the newest is {utc_text(RECENT_NEWEST)}, ")


def test_freshness_is_not_judged_by_a_run_that_plans_no_window(tmp_path):
    # the first window would start in the future: the run plans none and reads nothing, so nothing fails
    found = Checked(tmp_path, _quality({"check": "freshness", "max_age": "2d", "action": "fail_window"}), windows=[])
    assert (found.ids, found.dropped, found.failed) == ([], [], [])
    assert (found.outcomes()[0]["windows_failed"], found.counters.get("quality_windows_failed", 0)) == (0, 0)


def test_a_fresh_run_passes_freshness(tmp_path):
    found = Checked(tmp_path, _quality({"check": "freshness", "max_age": "100000d", "action": "fail_window"}))
    assert (found.ids, found.failed, found.outcomes()[0]["windows_failed"]) == (ALL_IDS, [], 0)


def test_a_replay_does_not_judge_freshness(tmp_path):
    stale = {"check": "freshness", "max_age": "2d", "action": "fail_window"}
    windows = [_recent_days(TODAY)[-1]]
    plan = RunPlan("r1", "sample_items", datetime.now(UTC), windows, is_replay=True)
    dataset = Dataset(start=RECENT_START, days=3, records_per_day=4)
    found = Checked(tmp_path, _quality(stale), windows=windows, dataset=dataset, plan=plan)
    assert found.failed == []
    assert found.lines() == ["  quality: items freshness - fail_window: 0 rows failed, 0 windows with a failure"]


def all_checks() -> list[dict]:
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


def test_every_check_at_once_in_batches_of_batch_size(tmp_path):
    found = Checked(tmp_path, _quality(*all_checks(), api_config={"batch_size": 7}))

    # ids 161..192 fail the range on id: the window of 2024-01-04 fails; 97 and 145 duplicate refs 96 and 144
    dropped = [60, 90, 97, 100, 120]  # not_null, range on comments, unique: those outside the failed window
    assert found.ids == [i for i in range(49, 145) if i not in dropped]
    assert max(len(batch) for batch in found.batches) == 7
    assert [row["record"]["id"] for row in found.dropped] == dropped
    [window] = found.failed
    assert window["window_start"] == "2024-01-04T00:00:00Z"
    assert window["error"] == "quality range id (fail_window): 32 of 48 rows failed, first: range id: 161 > max 160"
    assert [(o["check"], o["rows_failed"], o["windows_failed"]) for o in found.outcomes()] == [
        ("not_null", 1, 1),
        ("accepted_values", 6, 3),
        ("range", 5, 3),
        ("regex", 9, 3),
        ("unique", 2, 2),
        ("row_count", 0, 0),
        ("freshness", 0, 0),  # a backfill: not judged
        ("range", 32, 1),
    ]
    assert found.counters["quality_rows_failed"] == 1 + 6 + 5 + 9 + 2 + 32
    assert found.counters["quality_windows_failed"] == 3  # each window had a failure of some check
    assert found.rows_written == len(found.ids)


def test_unique_keeps_a_row_no_drop_row_check_drops(tmp_path):
    # refs 96 and 144 are in rows 96 and 97, and 144 and 145; rows 96 and 144 (multiples of 16) fail the regex,
    # which drops them: rows 97 and 145 are kept, so that every ref lands in the output
    found = Checked(
        tmp_path,
        _quality(
            {"check": "regex", "field": "html_url", "pattern": "^https://", "action": "drop_row"},
            {"check": "unique", "field": "ref", "action": "drop_row"},
        ),
    )
    sixteens = list(range(64, 193, 16))
    assert found.ids == [i for i in ALL_IDS if i not in sixteens]
    assert {row["ref"] for batch in found.batches for row in batch} >= {96, 144}
    dead = {row["record"]["id"]: row["error"] for row in found.dropped}
    assert sorted(dead) == sixteens
    assert dead[96] == (
        'regex html_url: "http://sample.test/items/96" does not match; '
        "unique ref: 96 is also in a row kept (window from 2024-01-03T00:00:00Z)"
    )
    assert [(o["check"], o["rows_failed"], o["windows_failed"]) for o in found.outcomes()] == [
        ("regex", 9, 3),
        ("unique", 2, 2),
    ]
