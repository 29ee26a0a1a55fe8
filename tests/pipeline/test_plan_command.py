"""`plan` against the sample API with known totals: exact window counts, estimates of a 2-year daily backfill
within 10 % on a uniform range and within the stated range on busy days, cursors without a total, children from
their parents' sample, the requests of the sample itself counted and paced, warnings, nothing written; and one
`plan` then `run` compared."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from beam_api_pipeline import flex_template
from beam_api_pipeline.cli import main
from beam_api_pipeline.client.build import build_client
from beam_api_pipeline.client.limits import RequestLimits
from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.plan.backfill import job_time
from beam_api_pipeline.run import backfill_plan
from beam_api_pipeline.run.backfill_plan import BackfillPlanner, Pace
from sample_api import SampleApi
from sample_api.children import child_count
from sample_api.data import Dataset, day_counts
from tests.support import items_config, write_yaml

START, END = "2024-01-01T00:00:00Z", "2025-12-31T00:00:00Z"  # 730 daily windows
FIRST = datetime(2024, 1, 1, tzinfo=UTC)
CURSOR = {
    "endpoints": {"items": {"path": "/events", "records_path": "data", "primary_key": "id"}},
    "pagination": {"strategy": "cursor", "page_size": 10, "cursor_path": "meta.next_cursor"},
}


#: What a record costs the run's record stages in the tests that do not measure it (`record_cost.record_cpu` runs two
#: local pipelines, seconds each on a busy machine; the tests of the measurement itself keep it).
STAGES_CPU = 0.0002


@pytest.fixture
def stages_not_measured(monkeypatch):
    monkeypatch.setattr(backfill_plan, "record_cpu", lambda _config, _batches: STAGES_CPU)


def write(api: SampleApi, folder: Path, **api_config: Any) -> Path:
    """The items config (page numbers of 20 with `total`, rate_limit 50) with `api_config` merged in."""
    changes = {"rate_limit": 50, "pagination": {"page_size": 20}, **api_config}
    return write_yaml(folder / "pipeline.yaml", items_config(api.url, folder, api_config=changes))


def plan(capsys, folder: Path, path: Path, *args: str) -> tuple[dict[str, Any], list[str]]:
    """`plan --config path args` over [START, END) unless `args` say otherwise: its JSON and its printed lines."""
    report = folder / "plan.json"
    times = [] if "--start_time" in args else ["--start_time", START, "--end_time", END]
    assert main(["plan", "--config", str(path), *times, *args, "--report_json", str(report)]) == 0
    return json.loads(report.read_text()), capsys.readouterr().out.splitlines()


def within(estimate: float, real: float, share: float) -> bool:
    return abs(estimate - real) <= share * real


def test_a_two_year_daily_backfill_is_predicted_within_10_percent_from_20_first_pages(tmp_path, capsys):
    with SampleApi(Dataset(days=731)) as api:
        found, lines = plan(capsys, tmp_path, write(api, tmp_path), "--sample", "20")
        requests_made = api.stats()["requests"]
        real_records = len(api.dataset.window(FIRST, FIRST + timedelta(days=730)))
    real_requests = sum(math.ceil(count / 20) for count in day_counts(730, 48))

    assert requests_made == found["sample_requests"] == 20  # at most --sample + endpoints
    items = found["endpoints"]["items"]
    assert items["windows"] == 730
    assert items["first_window"] == "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"
    assert items["last_window"] == "2025-12-30T00:00:00Z/2025-12-31T00:00:00Z"
    assert (items["windows_done"], items["sampled"], items["known_by"], items["page_size"]) == (
        0,
        20,
        {"total": 20},
        20,
    )
    assert (real_records, real_requests) == (35040, 2190)
    assert items["records"] == {"value": 35040.0, "low": 35040.0, "high": 35040.0}
    assert items["requests"] == {"value": 2190.0, "low": 2190.0, "high": 2190.0}
    assert within(items["records"]["value"], real_records, 0.10)
    assert within(items["requests"]["value"], real_requests, 0.10)
    assert found["time"]["rate_limit_s"] == round((2190 - 50) / 50, 1)
    assert found["time"]["bound_by"] == "rate_limit"
    assert items["cpu_us_per_record"] > 0  # the fetch and the record stages, Beam's work included
    # 50 requests/s x 16 records x well under 1 ms of CPU: less than one vCPU keeps the API busy
    assert (found["dataflow"]["workers"], found["dataflow"]["needed"], found["dataflow"]["bound_by"]) == (1, 1, "api")
    assert found["dataflow"]["region"] == "us-central1"
    assert found["warnings"] == []
    assert lines[0] == "plan sample_items: 20 requests sent to sample, nothing written"
    assert lines[1].startswith(
        "  items: 730 windows 2024-01-01T00:00:00Z .. 2025-12-31T00:00:00Z, 0 already done; 20 sampled (20 by total); "
        "records 35,040, requests 2,190; latency "
    )


@pytest.mark.usefixtures("stages_not_measured")
def test_busy_days_fall_within_the_stated_range(tmp_path, capsys):
    with SampleApi(Dataset(days=731, busy_every=7, busy_factor=6)) as api:
        found, _ = plan(capsys, tmp_path, write(api, tmp_path), "--sample", "20")
        real_records = len(api.dataset.window(FIRST, FIRST + timedelta(days=730)))
    real_requests = sum(math.ceil(count / 20) for count in day_counts(730, 48, busy_every=7, busy_factor=6))

    items = found["endpoints"]["items"]
    assert (real_records, real_requests) == (60000, 3438)
    assert items["records"] == {"value": 70080.0, "low": 36284.2, "high": 103875.8}
    assert items["requests"] == {"value": 3942.0, "low": 2252.2, "high": 5631.8}
    assert items["records"]["low"] <= real_records <= items["records"]["high"]
    assert items["requests"]["low"] <= real_requests <= items["requests"]["high"]


@pytest.mark.usefixtures("stages_not_measured")
def test_a_cursor_walk_without_a_total_is_estimated_from_the_time_its_first_page_covers(tmp_path, capsys):
    with SampleApi(Dataset(days=40)) as api:
        path = write(api, tmp_path, **CURSOR)
        found, _ = plan(capsys, tmp_path, path, "--start_time", START, "--end_time", "2024-01-31T00:00:00Z")
        assert api.stats()["requests"] == 20

    items = found["endpoints"]["items"]
    assert (items["windows"], items["sampled"], items["known_by"]) == (30, 20, {"extrapolated": 20})
    assert items["records"] == {"value": 1440.0, "low": 1440.0, "high": 1440.0}  # 48 a day, as the data set
    assert items["requests"] == {"value": 150.0, "low": 150.0, "high": 150.0}  # 5 pages of 10 a day


def _children_plan(capsys, folder: Path, dataset: Dataset) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """`plan` of items (pages of 20) and their children (pages of 10) over 30 days of `dataset`: its JSON, the
    requests the API saw per path and the printed lines."""
    with SampleApi(dataset) as api:
        config = items_config(api.url, folder, api_config={"rate_limit": 50, "pagination": {"page_size": 20}})
        config["api_config"]["endpoints"]["children"] = {
            "parent": "items",
            "path": "/items/{parent.id}/children",
            "records_path": "children",
            "primary_key": "id",
            "pagination": {"strategy": "page_number", "page_size": 10, "total_path": "total"},
        }
        path = write_yaml(folder / "pipeline.yaml", config)
        found, lines = plan(capsys, folder, path, "--start_time", START, "--end_time", "2024-01-31T00:00:00Z")
        return found, api.stats()["by_path"], lines


@pytest.mark.usefixtures("stages_not_measured")
def test_children_are_estimated_from_three_parent_records_spread_over_the_parents_sample(tmp_path, capsys):
    found, by_path, lines = _children_plan(capsys, tmp_path, Dataset(days=40))

    # --sample, and one request per sampled parent record: the first records of the 1st, 11th and 20th sampled
    # windows (days 0, 15 and 29 of 30: items 48 x day + 1)
    assert by_path == {"/items": 20, "/items/1/children": 1, "/items/721/children": 1, "/items/1393/children": 1}
    assert found["sample_requests"] == 23
    assert [child_count(item) for item in (1, 721, 1393)] == [15, 15, 15]  # 2 pages of 10 each
    children = found["endpoints"]["children"]
    assert (children["parent"], children["windows"], children["sampled"]) == ("items", 30, 3)
    assert children["records"] == {"value": 1440 * 15.0, "low": 1440 * 15.0, "high": 1440 * 15.0}
    assert children["requests"] == {"value": 1440 * 2.0, "low": 1440 * 2.0, "high": 1440 * 2.0}
    assert found["requests"]["value"] == 1440 * 2 + 30 * 3
    assert lines[2].startswith(
        "  children (child of items, scaled from 3 parent records): 30 windows 2024-01-01T00:00:00Z .. "
        "2024-01-31T00:00:00Z, 0 already done; 3 sampled (3 by total); records 21,600, requests 2,880; latency "
    )


@pytest.mark.usefixtures("stages_not_measured")
def test_children_s_range_comes_from_the_spread_of_their_sampled_parents_and_holds_the_real_count(tmp_path, capsys):
    found, by_path, _ = _children_plan(capsys, tmp_path, Dataset(days=40, records_per_day=50))

    assert by_path == {"/items": 20, "/items/1/children": 1, "/items/751/children": 1, "/items/1451/children": 1}
    assert [child_count(item) for item in (1, 751, 1451)] == [15, 15, 25]  # 2, 2 and 3 pages of 10
    real_records = sum(child_count(item) for item in range(1, 1501))
    real_requests = sum(math.ceil(child_count(item) / 10) for item in range(1, 1501))
    assert (real_records, real_requests) == (22500, 3000)
    children = found["endpoints"]["children"]
    assert found["endpoints"]["items"]["records"]["value"] == 1500.0
    # 1,500 parents x the mean of 15, 15, 25; the range: t(2) = 4.30 x sd 5.77 / sqrt(3), finite-population
    # corrected, times 1,500
    assert children["records"] == {"value": 27500.0, "low": 6014.3, "high": 48985.7}
    assert children["requests"] == {"value": 3500.0, "low": 1351.4, "high": 5648.6}
    assert children["records"]["low"] <= real_records <= children["records"]["high"]
    assert children["requests"]["low"] <= real_requests <= children["requests"]["high"]


def test_nothing_is_written_the_store_is_unchanged_and_windows_before_the_watermark_count_as_done(tmp_path, capsys):
    with SampleApi(Dataset(days=40)) as api:
        path = write(api, tmp_path)
        config = load_pipeline_config(path)
        with opened_store(config.watermark_store) as store:
            store.advance_watermark("sample_items", "items", datetime(2024, 1, 11, tzinfo=UTC), "earlier-run")
        database = Path(config.watermark_store.path)
        before = hashlib.sha256(database.read_bytes()).hexdigest()

        found, _ = plan(capsys, tmp_path, path, "--start_time", START, "--end_time", "2024-01-31T00:00:00Z")

    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.yaml", "plan.json", "state"]
    assert sorted(p.name for p in database.parent.iterdir()) == ["control.db"]
    items = found["endpoints"]["items"]
    assert (items["windows"], items["windows_done"]) == (30, 10)
    assert found["warnings"] == []


@pytest.mark.usefixtures("stages_not_measured")
def test_a_range_a_run_would_refuse_is_warned(tmp_path, capsys):
    with SampleApi(Dataset(days=40)) as api:
        path = write(api, tmp_path)
        config = load_pipeline_config(path)
        with opened_store(config.watermark_store) as store:
            store.advance_watermark("sample_items", "items", datetime(2024, 1, 11, tzinfo=UTC), "earlier-run")
        found, _ = plan(
            capsys, tmp_path, path, "--start_time", "2024-01-15T00:00:00Z", "--end_time", "2024-01-31T00:00:00Z"
        )

    assert found["warnings"] == [
        "a run refuses this range: --start_time: 2024-01-15T00:00:00Z is after the watermark of items, "
        "2024-01-11T00:00:00Z: [2024-01-11T00:00:00Z, 2024-01-15T00:00:00Z) would never be read. Read the range "
        "without moving the watermark with --backfill, or skip the gap on purpose with `watermark set --endpoint "
        "items --to 2024-01-15T00:00:00Z`"
    ]
    assert found["endpoints"]["items"]["windows"] == 16


@pytest.mark.usefixtures("stages_not_measured")
def test_a_missing_local_store_is_not_created(tmp_path, capsys):
    with SampleApi(Dataset(days=5)) as api:
        path = write(api, tmp_path)
        plan(capsys, tmp_path, path, "--start_time", START, "--end_time", "2024-01-03T00:00:00Z")
    assert not (tmp_path / "state").exists()


@pytest.mark.usefixtures("stages_not_measured")
def test_the_sample_s_requests_are_paced_at_the_rate_limit(tmp_path, capsys):
    with SampleApi(Dataset(days=40)) as api:
        path = write(api, tmp_path, rate_limit=20)
        plan(capsys, tmp_path, path, "--start_time", START, "--end_time", "2024-01-31T00:00:00Z", "--sample", "8")
        times = [at for at, _, _ in api.answers()]
    assert len(times) == 8
    # each request starts 1 / 20 s after the one before; its answer comes a latency later, which varies when the
    # machine is busy (one late answer shortens the gap after the one before it), so the typical gap is judged:
    # unpaced requests would come within a few ms of each other
    gaps = sorted(later - earlier for earlier, later in itertools.pairwise(times))
    assert gaps[len(gaps) // 2] >= 0.045


@pytest.mark.usefixtures("stages_not_measured")
def test_what_would_go_wrong_is_warned(tmp_path, capsys):
    with SampleApi(Dataset(days=40)) as api:
        api.set_faults(ignore_window_filter=True)
        path = write(api, tmp_path, rate_limit=200, pagination={"page_size": 20, "max_pages": 2})
        found, lines = plan(capsys, tmp_path, path, "--start_time", START, "--end_time", "2024-01-04T00:00:00Z")
        api.set_faults(ignore_window_filter=False, rate_limit=2)
        limited, limited_lines = plan(
            capsys,
            tmp_path,
            write(api, tmp_path, rate_limit=2),
            "--start_time",
            START,
            "--end_time",
            "2024-01-02T00:00:00Z",
        )

    assert found["warnings"][0] == (
        "items 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z: 20 of 20 records the API returned are outside the window "
        "it was asked for or have no readable timestamp (more than watermark.max_outside_share 0.5): the API did "
        "not filter by since=2024-01-02T00:00:00Z, until=2024-01-03T00:00:00Z; for example "
        "updated_at='2024-01-01T00:00:00Z' (read as 2024-01-01T00:00:00Z) (a run fails every such window)"
    )
    assert found["warnings"][1:] == [
        "items: 3 of 3 sampled windows hold more records than page size 20 x max_pages 2 (e.g. "
        "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z: 1920): a run stops them at max_pages and fails them; use a "
        "smaller window_size",
    ]
    assert lines[-2].startswith("  warning: items 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z: 20 of 20 records")
    assert limited["rate_headers"]["limit"] == 2
    assert limited["warnings"] == []  # 1 request left in the 0.5 s to a full bucket: what rate_limit 2 sends
    assert limited_lines[-5].startswith("  rate-limit headers of the last answer: limit 2, remaining ")


@pytest.mark.parametrize("rate_limit", [20])
def test_plan_then_run_agree_on_records_requests_and_time(tmp_path, capsys, rate_limit):
    with SampleApi(Dataset(days=40)) as api:
        path = write(api, tmp_path, rate_limit=rate_limit)
        times = ["--start_time", START, "--end_time", "2024-02-01T00:00:00Z"]
        found, _ = plan(capsys, tmp_path, path, *times, "--sample", "5")
        api.reset_stats()
        report = tmp_path / "run.json"
        args = ["run", "--config", str(path), *times, "--plan_json", str(tmp_path / "plan.json"), "--no_progress"]
        assert main([*args, "--report_json", str(report)]) == 0
        real_requests = api.stats()["requests"]
        printed = capsys.readouterr().out.splitlines()
        assert main(["runs", "--config", str(path)]) == 0
        shown = json.loads(capsys.readouterr().out.splitlines()[0])

    ran = json.loads(report.read_text())
    stats = ran["endpoints"]["items"]
    elapsed = datetime.fromisoformat(ran["run"]["end_time"]) - datetime.fromisoformat(ran["run"]["start_time"])
    assert found["sample_requests"] == 5
    assert (stats["records"], stats["pages"], real_requests) == (1488, 93, 93)
    assert within(found["records"]["value"], stats["records"], 0.10)
    assert within(found["requests"]["value"], real_requests, 0.10)
    assert within(found["time"]["seconds"], elapsed.total_seconds(), 0.25)
    assert stats["estimated_records"] == 1488.0 and stats["estimated_requests"] == 93.0
    assert shown["endpoint_stats"]["items"]["estimated_records"] == 1488.0
    assert shown["endpoint_stats"]["items"]["estimated_seconds"] == found["time"]["seconds"]
    line = next(line for line in printed if line.startswith("  plan vs run"))
    assert line.startswith(
        "  plan vs run, items: records 1,488 planned, 1,488 real (+0.0%); requests 93 planned, 93 real (+0.0%); time "
    )


def test_latency_and_cpu_per_record_are_measured_on_the_sampled_pages_and_their_records_run_once(tmp_path):
    measured: list[list[tuple[str, str, int]]] = []

    def stages_cpu(_config, batches) -> float:
        measured.append([(task.endpoint, task.window.label(), len(rows)) for task, rows in batches])
        return 0.0005  # what a record costs the run's record stages

    with SampleApi(Dataset(days=40)) as api:
        config = load_pipeline_config(write(api, tmp_path))
        client = build_client(config, RequestLimits(None, 1))
        ticks, cpu = itertools.count(step=0.004), itertools.count(step=0.02)  # 4 ms a request, 20 ms a page of 20
        planner = BackfillPlanner(
            config,
            client,
            RestExtractor,
            lambda _endpoint: None,
            Pace(None),
            clock=lambda: next(ticks),
            cpu_clock=lambda: next(cpu),
            stages_cpu=stages_cpu,
        )
        try:
            (items,) = planner.plan(FIRST, FIRST + timedelta(days=10), sample=4)
        finally:
            client.close()

    assert planner.requests == 4
    assert items.latency == pytest.approx(0.004)
    assert measured == [
        [("items", f"2024-01-{day:02d}T00:00:00Z/2024-01-{day + 1:02d}T00:00:00Z", 20) for day in (1, 4, 7, 10)]
    ]
    assert items.cpu_per_record == pytest.approx(0.001 + 0.0005)  # its page's fetch, and the record stages
    assert job_time(config, [items]).cpu == pytest.approx(480 * 0.0015)


def test_a_sample_below_one_is_refused(tmp_path, capsys):
    path = write_yaml(tmp_path / "p.yaml", items_config("http://127.0.0.1:1", tmp_path))
    assert main(["plan", "--config", str(path), "--sample", "0"]) == 2
    assert capsys.readouterr().err == "--sample: must be at least 1, got 0\n"


def test_a_launched_run_refuses_a_plan_s_estimate_with_one_line(tmp_path, capsys):
    path = write_yaml(tmp_path / "p.yaml", items_config("http://127.0.0.1:1", tmp_path))
    refused = (
        "--plan_json: a Dataflow job writes its run record itself and cannot keep a plan's estimate in it: compare "
        "`plan --report_json` with `status` or `runs` yourself, or plan then `run` locally\n"
    )
    launch = ["launch", "--config", str(path), "--project", "p", "--region", "us-central1"]
    assert main([*launch, "--template_path", "gs://b/t.json", "--plan_json", str(tmp_path / "plan.json")]) == 2
    assert capsys.readouterr().err == refused
    assert flex_template.launch([f"--pipeline_config={path}", f"--plan_json={tmp_path / 'plan.json'}"]) == 2
    assert capsys.readouterr().err == refused
    assert not (tmp_path / "state").exists()  # refused before anything was opened
