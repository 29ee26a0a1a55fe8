"""A run killed half way (SIGKILL) leaves no finished-looking output and no watermark; its lease expires
(`lease_ttl`), and the next run, which waits for that, is exact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control.store import opened_store
from sample_api import Faults, SampleApi
from tests.support import t


def write_config(tmp_path: Path, url: str) -> Path:
    config = {
        "pipeline_id": "crash_test",
        "api_config": {
            "base_url": url,
            "endpoints": {"items": {"path": "/items", "records_path": "items"}},
            "pagination": {"strategy": "page_number", "page_size": 5, "total_path": "total"},
            "watermark": {
                "enabled": True,
                "watermark_field": "since",
                "window_end_field": "until",
                "initial_watermark": "2024-01-01T00:00:00Z",
            },
        },
        "output": [{"type": "local", "config": {"path": str(tmp_path / "out"), "batch_size": 50}}],
        "watermark_store": {"type": "local", "path": str(tmp_path / "control.db"), "lease_ttl": "10s"},
    }
    path = tmp_path / "crash.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_sigkill_half_way_then_rerun_delivers_exactly_the_expected_ids(tmp_path):
    with SampleApi(faults=Faults(latency_ms=40)) as api:
        path = write_config(tmp_path, api.url)
        command = [sys.executable, "-m", "beam_api_pipeline", "run", "--config", str(path), "--end_time", "2024-01-08"]
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while api.stats()["requests"] < 30 and time.monotonic() < deadline:  # 7 windows x 10 pages in all
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        assert api.stats()["requests"] < 70

        out = tmp_path / "out"
        assert list(out.glob("*.jsonl")) == []
        config = load_pipeline_config(path)
        with opened_store(config.watermark_store) as store:
            assert store.get_watermark("crash_test", "items") is None
            assert [r.status for r in store.list_runs("crash_test")] == ["running"]
            (killed,) = store.list_runs("crash_test")
            assert store.get_lease("crash_test", datetime.now(UTC)).run_id == killed.run_id  # until lease_ttl passes

        api.set_faults(latency_ms=0)
        assert subprocess.run([*command, "--wait_for_lease", "60"], capture_output=True).returncode == 0
        rows = [json.loads(line) for f in out.glob("*.jsonl") for line in f.read_text().splitlines()]
        assert sorted(r["id"] for r in rows) == api.dataset.ids_between(t("2024-01-01"), t("2024-01-08"))
        with opened_store(config.watermark_store) as store:
            assert store.get_watermark("crash_test", "items") == t("2024-01-08")
