"""Runs of the rate-limit modes against the sample API holding 40 requests a second, as the Dataflow case would:
several processes, and a `max_num_workers` of 100 that divides the budget as a 100-worker job would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sample_api import Dataset, Faults, SampleApi
from sample_api.rate_stats import RateStats, rate_stats
from tests.runners.runs import Outcome, run_pipeline
from tests.support import items_config, merged, prism_location

START = datetime(2024, 1, 1, tzinfo=UTC)
API_LIMIT = 40
PAGE_SIZE = 10
PROCESSES = ["--direct_num_workers=4", "--direct_running_mode=multi_processing"]
AS_IF_100_WORKERS = ["--max_num_workers=100"]


def prism() -> list[str]:
    return ["--runner=PrismRunner", f"--prism_location={prism_location()}"]


@dataclass
class LimitedRun:
    """A run against the limited API: what it left, the API's answers, and when (if) the limit was lowered."""

    outcome: Outcome
    answers: list[tuple[float, str, int]]
    expected_ids: list[int]
    lowered_at: float | None = None

    def stats(self, start: float | None = None, end: float | None = None) -> RateStats:
        return rate_stats(self.answers, start, end)

    @property
    def first_answer(self) -> float:
        return min(at for at, _path, _status in self.answers)


def run_limited(
    folder: Path,
    days: int,
    records_per_day: int,
    api_config: dict[str, Any],
    runner_args: list[str],
    during: Callable[[SampleApi], float | None] | None = None,
) -> LimitedRun:
    """Run the /items pipeline over `days` days against the sample API limited to `API_LIMIT` requests/s (5 ms
    answers, 10 records a page), with `api_config` merged in. `during(api)`, when given, runs beside the
    pipeline in a thread; what it returns is kept as `lowered_at`."""
    folder.mkdir(parents=True, exist_ok=True)
    dataset = Dataset(START, days, records_per_day)
    with SampleApi(dataset, Faults(rate_limit=API_LIMIT, latency_ms=5, retry_after="1")) as api:
        config = merged(
            items_config(api.url, folder),
            {
                "api_config": {
                    "pagination": {"page_size": PAGE_SIZE},
                    "retry": {"max_attempts": 30, "base_delay": 0.2, "max_delay": 2, "max_time": 600},
                    "max_concurrent_requests": 16,
                    "watermark": {"initial_watermark": "2024-01-01T00:00:00Z"},
                    **api_config,
                },
                "output": [{"type": "local", "config": {"path": str(folder / "out"), "batch_size": 5000}}],
            },
        )
        side: list[float | None] = []
        helper = threading.Thread(target=lambda: side.append(during(api))) if during else None
        if helper:
            helper.start()
        end = (START + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        outcome = run_pipeline(config, folder, "--end_time", end, *runner_args)
        if helper:
            helper.join()
        return LimitedRun(outcome, api.answers(), dataset.ids_between(), side[0] if side else None)


def after_first_request(api: SampleApi, seconds: float, action: Callable[[], None]) -> float:
    """Wait for the API's first data answer, then `seconds` more, then do `action`; returns when it was done."""
    while not api.answers():
        time.sleep(0.05)
    time.sleep(seconds)
    action()
    return time.monotonic()
