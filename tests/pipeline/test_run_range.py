"""The run's range never jumps (issue 27, E.12 and E.13): a `--start_time` after the stored watermark is refused
(`run`, the Flex Template entry), `--backfill` reads a range and leaves the watermark, `watermark set` skips a gap
on purpose and records it; two runs of one pipeline at once: the second exits 2 naming the holder of the lease, or
waits for it, and no row is written twice."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.cli import main
from beam_api_pipeline.config.options import read_template_run
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.lease import LeaseHeldError
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.flex_template import build_pipeline
from beam_api_pipeline.flex_template import launch as flex_template_entry
from tests.pipeline.conftest import run_report
from tests.support import RUNNER_MODES, read_jsonl, runner_mode_args, stored_watermark, t

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
#: The sample API's ids: a record every 30 minutes from 2024-01-01, so day N (from 1) holds ids 48(N-1)+1..48N.
JAN_2 = list(range(49, 97))
JAN_4 = list(range(145, 193))
JAN_5 = list(range(193, 241))

GAP_REFUSED = (
    "--start_time: 2024-01-05T00:00:00Z is after the watermark of items, 2024-01-03T00:00:00Z: "
    "[2024-01-03T00:00:00Z, 2024-01-05T00:00:00Z) would never be read. Read the range without moving the watermark "
    "with --backfill, or skip the gap on purpose with `watermark set --endpoint items --to 2024-01-05T00:00:00Z`"
)


def ids(folder: Path) -> list[int]:
    return sorted(row["id"] for row in read_jsonl(folder))


def run_records(path: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["runs", "--config", str(path)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_start_after_the_watermark_is_refused_backfilled_or_skipped_on_purpose(write_config, tmp_path, capsys):
    path, config = write_config()
    out = tmp_path / "out"
    assert run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")[0] == 0
    assert (ids(out), stored_watermark(config)) == (JAN_2, t("2024-01-03"))
    capsys.readouterr()

    window = ["--start_time", "2024-01-05", "--end_time", "2024-01-06"]
    assert main(["run", "--config", str(path), *window]) == 2
    assert capsys.readouterr().err.splitlines() == [GAP_REFUSED]
    flex = [f"--pipeline_config={path}", "--start_time=2024-01-05", "--end_time=2024-01-06"]
    assert flex_template_entry(flex) == 2
    assert capsys.readouterr().err.splitlines() == [GAP_REFUSED]
    assert (ids(out), stored_watermark(config)) == (JAN_2, t("2024-01-03"))

    code, report = run_report(tmp_path, "--config", str(path), *window, "--backfill")
    assert (code, report["run"]["status"]) == (0, "succeeded")
    assert (ids(out), stored_watermark(config)) == (JAN_2 + JAN_5, t("2024-01-03"))
    capsys.readouterr()

    assert main(["watermark", "set", "--config", str(path), "--endpoint", "items", "--to", "2024-01-04"]) == 0
    note = (
        "items: watermark set to 2024-01-04T00:00:00Z by `watermark set`; "
        "[2024-01-03T00:00:00Z, 2024-01-04T00:00:00Z) skipped unread"
    )
    assert capsys.readouterr().out.splitlines() == [note]
    assert stored_watermark(config) == t("2024-01-04")
    latest = run_records(path, capsys)[0]
    assert (latest["status"], latest["note"], latest["records_processed"]) == ("watermark_set", note, 0)

    assert main(["watermark", "set", "--config", str(path), "--endpoint", "items", "--to", "2024-01-03"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "--to: 2024-01-03T00:00:00Z is not after the watermark of items, 2024-01-04T00:00:00Z; a watermark never "
        "moves back: read a range again with run --start_time ... --backfill"
    ]

    code, _ = run_report(tmp_path, "--config", str(path), "--start_time", "2024-01-04", "--end_time", "2024-01-05")
    assert code == 0
    assert (ids(out), stored_watermark(config)) == (JAN_2 + JAN_4 + JAN_5, t("2024-01-05"))


@pytest.mark.parametrize("mode", RUNNER_MODES)
def test_a_backfill_writes_its_range_and_leaves_the_watermark(write_config, tmp_path, capsys, mode):
    path, config = write_config()
    assert main(["watermark", "set", "--config", str(path), "--endpoint", "items", "--to", "2024-01-03"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "items: watermark set to 2024-01-03T00:00:00Z by `watermark set`; before 2024-01-03T00:00:00Z skipped unread"
    ]
    window = ["--start_time", "2024-01-05", "--end_time", "2024-01-06"]
    code, report = run_report(tmp_path, "--config", str(path), *window, "--backfill", *runner_mode_args(mode))
    assert (code, report["run"]["windows_done"]) == (0, 1)
    assert (ids(tmp_path / "out"), stored_watermark(config)) == (JAN_5, t("2024-01-03"))


def test_a_backfill_needs_its_start(write_config, capsys):
    path, config = write_config()
    assert main(["run", "--config", str(path), "--backfill", "--end_time", "2024-01-03"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "--backfill: give the range to read with --start_time (and --end_time)"
    ]
    assert stored_watermark(config) is None


def _start_run(path: Path, report: Path, *options: str) -> subprocess.Popen:
    """`run` of `path` up to 2024-01-03 in a process of its own."""
    command = [sys.executable, "-m", "beam_api_pipeline", "run", "--config", str(path), "--no_progress"]
    command += ["--end_time", "2024-01-03", "--report_json", str(report), *options]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _two_runs_at_once(write_config, sample_api, tmp_path, *options: str) -> list[tuple[int, str, Path]]:
    """Start two runs of one pipeline at the same moment over a slow API (each page takes 1 s, a run 5 pages):
    (exit code, stderr, report path) of each."""
    path, _ = write_config()
    sample_api.set_faults(latency_ms=1000)
    reports = [tmp_path / f"report_{n}.json" for n in (1, 2)]
    runs = [_start_run(path, report, *options) for report in reports]
    outcomes = []
    for run, report in zip(runs, reports, strict=True):
        _, err = run.communicate(timeout=240)
        outcomes.append((run.returncode, err, report))
    return outcomes


@pytest.mark.parametrize("mode", RUNNER_MODES)
def test_a_second_run_at_once_exits_2_naming_the_holder_and_no_row_is_written_twice(
    write_config, sample_api, tmp_path, mode
):
    outcomes = _two_runs_at_once(write_config, sample_api, tmp_path, *runner_mode_args(mode))
    assert sorted(code for code, _, _ in outcomes) == [0, 2]
    (_, _, report), (_, refused, _) = sorted(outcomes, key=lambda outcome: outcome[0])
    holder = json.loads(report.read_text())["run"]["run_id"]
    pattern = (
        rf"pipeline sample_items is already being run by run {holder} on \S+ pid \d+ since "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z \(lease until \S+\): wait for it with --wait_for_lease SECONDS; "
        r"a run that died frees it when its lease expires"
    )
    assert re.fullmatch(pattern, refused.strip()), refused
    assert ids(tmp_path / "out") == JAN_2
    assert _lease_of(tmp_path) is None


def test_a_second_run_that_waits_for_the_lease_runs_after_the_first(write_config, sample_api, tmp_path):
    outcomes = _two_runs_at_once(write_config, sample_api, tmp_path, "--wait_for_lease", "120")
    assert [code for code, _, _ in outcomes] == [0, 0]
    windows = sorted(json.loads(report.read_text())["run"]["windows_done"] for _, _, report in outcomes)
    assert windows == [0, 1]  # the second planned from the watermark the first committed: nothing left
    assert ids(tmp_path / "out") == JAN_2
    assert _lease_of(tmp_path) is None


def _lease_of(folder: Path):
    from beam_api_pipeline.config.stores import LocalWatermarkStoreConfig
    from beam_api_pipeline.control.lease import utc_now

    with opened_store(LocalWatermarkStoreConfig(path=str(folder / "state" / "control.db"))) as store:
        return store.get_lease("sample_items", utc_now())


def test_a_launched_jobs_lease_is_taken_before_it_plans_and_released_by_its_commit(write_config, tmp_path, capsys):
    """The graph the Flex Template launcher submits (`main.build_pipeline`), run here on the local runner."""
    path, config = write_config()
    options = PipelineOptions([f"--pipeline_config={path}", "--end_time=2024-01-03"])
    pipeline, plan = build_pipeline(read_template_run(options), [], job_alerts=True)
    held = _lease_of(tmp_path)
    assert (held.run_id, held.expires_at - held.taken_at) == (plan.run_id, timedelta(hours=24))

    assert flex_template_entry([f"--pipeline_config={path}", "--end_time=2024-01-03"]) == 2
    assert capsys.readouterr().err.splitlines() == [LeaseHeldError(held).problems[0]]

    pipeline.run().wait_until_finish()
    assert (ids(tmp_path / "out"), stored_watermark(config), _lease_of(tmp_path)) == (JAN_2, t("2024-01-03"), None)


def test_a_backfill_of_a_streaming_pipeline_runs_as_a_batch_run(write_config, tmp_path):
    path, config = write_config(streaming={"enabled": True, "poll_interval": "5s"})
    assert main(["watermark", "set", "--config", str(path), "--endpoint", "items", "--to", "2024-01-03"]) == 0
    window = ["--start_time", "2024-01-05", "--end_time", "2024-01-06", "--backfill"]
    code, report = run_report(tmp_path, "--config", str(path), *window, *runner_mode_args("prism"))
    assert (code, report["run"]["windows_done"]) == (0, 1)
    assert (ids(tmp_path / "out"), stored_watermark(config)) == (JAN_5, t("2024-01-03"))


def test_a_launched_job_whose_config_its_launcher_refuses_frees_the_lease_launch_took(write_config, tmp_path):
    """`launch` took the lease for the job's run id; the job's launcher refuses the config (here: no window bound
    is sent), so the job never starts and never commits: the launcher frees the lease, not its 24 h expiry."""
    path, config = write_config(api_config={"watermark": {"watermark_field": None, "window_end_field": None}})
    run_id = "20240101T000000Z-1a2b3c4d"
    with opened_store(config.watermark_store) as store:
        lease.take(store, config.pipeline_id, run_id, timedelta(hours=24))
    options = PipelineOptions([f"--pipeline_config={path}", f"--run_id={run_id}"])
    with pytest.raises(ConfigError, match="sends no window bounds"):
        build_pipeline(read_template_run(options), [])
    assert _lease_of(tmp_path) is None
