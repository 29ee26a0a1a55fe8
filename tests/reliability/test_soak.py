"""The soak test: 200 windows of 20 pages each, with 5 % of the answers broken in every way the sample API knows
(5xx, 429 with Retry-After 0, dropped bodies, stalls past the timeout, malformed JSON, HTML and empty 200s), plus
records repeated across page boundaries and timestamps in mixed styles. Every record arrives exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from sample_api import Dataset, Faults, SampleApi
from tests.support import t

WINDOWS, PAGES, PAGE_SIZE = 200, 20, 5
SOAK_FAULTS = Faults(
    answer_faults=("503", "429", "drop", "stall", "malformed_json", "html_200", "empty_200"),
    answer_fault_rate=0.05,
    retry_after="0",
    stall_seconds=0.8,
    boundary_duplicates=1,
    timestamp_style="mixed",
    seed=8,
)


def soak_config(tmp_path: Path, url: str) -> Path:
    config = {
        "pipeline_id": "soak",
        "api_config": {
            "base_url": url,
            "timeout": 0.5,
            "endpoints": {"items": {"path": "/items", "records_path": "items", "primary_key": "id"}},
            "pagination": {"strategy": "page_number", "page_size": PAGE_SIZE, "total_path": "total"},
            "retry": {"max_attempts": 8, "base_delay": 0.01, "max_delay": 0.05, "max_time": 60},
            "watermark": {
                "enabled": True,
                "timestamp_field": "updated_at",
                "watermark_field": "since",
                "window_end_field": "until",
                "initial_watermark": "2024-01-01T00:00:00Z",
                "window": {"window_size": "1h"},
            },
        },
        "output": [{"type": "local", "config": {"path": str(tmp_path / "out"), "batch_size": 5000}}],
        "dead_letter": {"path": str(tmp_path / "dead_letter")},
        "watermark_store": {"type": "local", "path": str(tmp_path / "control.db")},
    }
    path = tmp_path / "soak.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_soak_200_windows_of_20_pages_with_5_percent_faults_delivers_every_id_once(tmp_path, run_pipeline):
    dataset = Dataset(t("2024-01-01"), days=9, records_per_day=24 * PAGES * PAGE_SIZE)
    end = "2024-01-09T08:00:00Z"  # 200 hours from the start: 200 windows of 100 records
    with SampleApi(dataset, SOAK_FAULTS) as api:
        path = soak_config(tmp_path, api.url)
        started = time.monotonic()
        outcome = run_pipeline(path, end, "--direct_num_workers=2", "--direct_running_mode=multi_threading")
        elapsed = time.monotonic() - started
        injected = api.injected()

    expected = dataset.ids_between(t("2024-01-01"), t("2024-01-09T08:00"))
    assert len(expected) == WINDOWS * PAGES * PAGE_SIZE
    assert outcome.code == 0, outcome.stdout
    assert outcome.ids == expected  # sorted with duplicates kept: every id exactly once
    assert outcome.dead == []
    assert outcome.watermark == t("2024-01-09T08:00")
    run = outcome.report["run"]
    assert (run["windows_done"], run["windows_failed"]) == (WINDOWS, 0)
    # each window's last page is full at its total: one more page is asked, to be sure the total was not capped
    assert run["endpoint_stats"]["items"]["pages"] == WINDOWS * (PAGES + 1)
    assert set(injected) == set(SOAK_FAULTS.answer_faults)
    assert outcome.report["counters"]["retries"] >= sum(injected.values())  # a loaded machine may add a timeout
    print(f"soak: {elapsed:.1f} s, {outcome.report['counters']['requests']} requests, faults injected: {injected}")
