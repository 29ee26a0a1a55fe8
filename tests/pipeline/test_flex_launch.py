"""The entry module run the way the Flex Template launcher runs it: a separate Python process given only
template parameters, as ``--name=value``, on DirectRunner against the sample API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.config.options import PATTERNS
from beam_api_pipeline.control.store import opened_store
from tests.support import read_jsonl, t

ROOT = Path(__file__).resolve().parents[2]


def launch(*parameters: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m beam_api_pipeline.flex_template <parameters>`` in a new process."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "beam_api_pipeline.flex_template", *parameters],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_inline_json_config_with_overrides_writes_exactly_the_window_and_moves_the_watermark(
    sample_api, write_config, tmp_path
):
    path, _ = write_config(output=[{"type": "local", "config": {"path": str(tmp_path / "from-config")}}])
    inline = json.dumps(yaml.safe_load(path.read_text()))
    out = tmp_path / "from-parameter"

    done = launch(
        f"--pipeline_config={inline}",
        "--start_time=2024-01-03T00:00:00Z",
        "--end_time=2024-01-05T00:00:00Z",
        f"--output_path={out}",
        "--log_level=WARNING",
    )

    assert done.returncode == 0, done.stderr[-2000:]
    ids = [row["id"] for row in read_jsonl(out)]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-03"), t("2024-01-05"))
    assert len(ids) == len(set(ids)) == 2 * 48
    assert not (tmp_path / "from-config").exists()
    config = load_pipeline_config(path)
    with opened_store(config.watermark_store) as store:
        assert store.get_watermark(config.pipeline_id, "items") == t("2024-01-05")
        (run,) = store.list_runs(config.pipeline_id)
        assert (run.status, run.windows_done, run.records_processed) == ("succeeded", 2, 96)
    assert "  total: 2 windows done, 0 failed, 10 requests (0 answered 429), 96 records written" in done.stdout
    assert done.stdout.splitlines()[2].endswith("  (none) -> 2024-01-05T00:00:00Z")


def test_a_second_launch_from_a_yaml_path_goes_on_from_the_stored_watermark(sample_api, write_config, tmp_path):
    path, config = write_config()
    first = launch(
        f"--pipeline_config={path}",
        "--end_time=2024-01-03T00:00:00Z",
        "--log_level=WARNING",
        "--run_id=20240103T000000Z-0a1b2c3d",
    )
    second = launch(f"--pipeline_config={path}", "--end_time=2024-01-04T12:00:00Z", "--log_level=WARNING")

    assert (first.returncode, second.returncode) == (0, 0), second.stderr[-2000:]
    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert ids == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04T12:00"))
    assert second.stdout.splitlines()[2].endswith("  2024-01-03T00:00:00Z -> 2024-01-04T12:00:00Z")
    with opened_store(config.watermark_store) as store:
        assert store.get_watermark(config.pipeline_id, "items") == t("2024-01-04T12:00")
        assert store.get_run("20240103T000000Z-0a1b2c3d").status == "succeeded"  # the run_id parameter


def test_bad_parameters_exit_2_with_one_line_each_and_no_traceback(write_config, sample_api):
    path, config = write_config()
    done = launch(f"--pipeline_config={path}", "--end_time=2024-13-01", "--output_table=raw")

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "--end_time: expected an ISO 8601 time such as 2024-01-01T00:00:00Z, got '2024-13-01'",
        "--output_table: expected a BigQuery table as project.dataset.table, project:dataset.table or "
        "dataset.table, got 'raw'",
    ]
    assert done.stdout == ""
    assert not Path(config.watermark_store.path).exists()  # nothing was planned or recorded


def test_a_config_problem_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text("pipeline_id: acme\napi_config: {base_url: http://127.0.0.1:9, endpoints: {}}\nextra: 1\n")
    done = launch(f"--pipeline_config={config}")

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{config}: api_config.endpoints: must not be empty",
        f"{config}: extra: unknown key",
    ]


def test_the_entry_file_runs_as_a_script_and_lists_every_template_parameter_with_its_help():
    done = subprocess.run(
        [sys.executable, "beam_api_pipeline/flex_template.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    parameters = [entry["name"] for entry in json.loads((ROOT / "metadata.json").read_text())["parameters"]]
    template_parameters = [name for name in parameters if name in PATTERNS]
    assert len(template_parameters) >= 9
    for name in template_parameters:
        described = re.search(rf"--{name} \S+\s+(\S[^\n]*)", done.stdout)
        assert described and len(described.group(1)) > 10, name
