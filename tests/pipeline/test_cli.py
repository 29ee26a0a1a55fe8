"""The command line's contract: exit codes, one-line errors, and runner modes that lose nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.control.store import open_store, opened_store
from tests.support import read_jsonl, t


def test_validate_accepts_a_good_file(write_config, capsys):
    path, _ = write_config()
    assert main(["validate", "--config", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: valid (pipeline sample_items, endpoints: items)"


def test_a_bad_config_exits_2_with_one_line_per_problem_and_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "pipeline_id: x\napi_config:\n  base_url: http://127.0.0.1:1\n  endpoints: {a: {path: /a}}\n"
        "  pagination: {page_size: 0, pagesize: 3}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "beam_api_pipeline", "run", "--config", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{path}: api_config.pagination.page_size: must be > 0",
        f"{path}: api_config.pagination.pagesize: unknown key",
    ]
    assert "Traceback" not in done.stderr


def test_a_bad_time_option_is_a_usage_error(write_config, capsys):
    path, _ = write_config()
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--config", str(path), "--end_time", "yesterday"])
    assert exit_info.value.code == 2
    assert "--end_time: expected an ISO 8601 time such as 2024-01-01T00:00:00Z, got 'yesterday'" in (
        capsys.readouterr().err
    )


def test_explicit_start_and_end_override_the_watermark(sample_api, write_config, tmp_path):
    path, _ = write_config()
    args = ["run", "--config", str(path), "--start_time", "2024-01-05T06:00:00Z", "--end_time", "2024-01-05T18:00:00Z"]
    assert main(args) == 0
    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert ids == sample_api.dataset.ids_between(t("2024-01-05T06:00"), t("2024-01-05T18:00"))


@pytest.mark.parametrize("mode", ["multi_threading", "multi_processing"])
def test_parallel_direct_runner_modes_lose_nothing(sample_api, write_config, tmp_path, mode):
    sample_api.set_faults(latency_ms=5, error_rate=0.05, seed=3)
    path, config = write_config()
    args = ["run", "--config", str(path), "--end_time", "2024-01-08T00:00:00Z"]
    assert main([*args, "--direct_num_workers=2", f"--direct_running_mode={mode}"]) == 0
    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-08"))
    assert len(ids) == len(set(ids))
    with opened_store(config.watermark_store) as store:
        assert store.get_watermark("sample_items", "items") == t("2024-01-08")
        run = store.list_runs("sample_items")[0]
    assert (run.status, run.records_processed, run.windows_done, run.windows_failed) == ("succeeded", len(ids), 6, 0)


def test_json_logs_of_a_run_are_structured_and_never_show_the_token(
    sample_api, write_config, tmp_path, monkeypatch, capfd
):
    token = "tok-4f9a8b7c6d5e"
    monkeypatch.setenv("SAMPLE_TOKEN", token)
    sample_api.set_faults(fail_since=["2024-01-03T00:00:00Z"])
    path, _ = write_config(
        api_config={"auth_config": {"auth_type": "bearer", "auth_credentials": {"token": "${env:SAMPLE_TOKEN}"}}}
    )
    args = ["--log_format", "json", "--log_level", "INFO", "run", "--config", str(path), "--end_time", "2024-01-04"]
    assert main(args) == 1
    captured = capfd.readouterr()
    entries = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert entries and all({"severity", "message", "time"} <= set(e) for e in entries)
    run_entries = [e for e in entries if e.get("run_id")]
    assert run_entries and {e["pipeline_id"] for e in run_entries} == {"sample_items"}
    about_windows = [e for e in entries if "window" in e]
    assert [(e["severity"], e["endpoint"], e["window"]) for e in about_windows] == [
        ("WARNING", "items", "2024-01-03T00:00:00Z/2024-01-04T00:00:00Z")
    ]
    assert about_windows[0]["message"].startswith("items 2024-01-03T00:00:00Z/2024-01-04T00:00:00Z failed: GET ")
    assert token not in captured.err + captured.out
    for written in tmp_path.rglob("*"):
        if written.is_file():
            assert token.encode() not in written.read_bytes(), written


def test_a_runner_setting_that_loses_records_is_refused_before_anything_runs(write_config, capsys):
    path, config = write_config()
    args = ["run", "--config", str(path), "--end_time", "2024-01-03", "--experiments=data_buffer_time_limit_ms=1000"]
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == (
        "--experiments=data_buffer_time_limit_ms=1000: refused: SDK workers would flush data from a timer thread, "
        "which can cut an element in two and lose records silently (docs/beam-time-flush-bug.md)"
    )
    assert open_store(config.watermark_store).list_runs("sample_items") == []  # nothing was recorded
