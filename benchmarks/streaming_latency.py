"""W10: how soon a streaming run lands new records, against its poll interval: the sample API gains records every
second (each stamped as it is added, the moment the API first serves it) while the pipeline polls it on Prism;
for each poll interval, the records polled and the latency from a record's `updated_at` to its row reaching the
outputs (`_extracted_at`, and the `record_latency_ms` metric's maximum), as p50 / p95 / max and as a multiple of
the interval (the baseline: a record can wait up to one interval for the next poll).

    .venv/bin/python -m benchmarks.streaming_latency [--seconds 60] [--intervals 2 5] [--rate 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.run.local_run import run_locally
from sample_api import Dataset, SampleApi


def _config(api_url: str, folder: Path, interval: float) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "pipeline_id": "latency",
            "api_config": {
                "base_url": api_url,
                "endpoints": {"items": {"path": "/items", "records_path": "items", "primary_key": "id"}},
                "pagination": {"strategy": "page_number", "page_size": 100, "total_path": "total"},
                "watermark": {
                    "enabled": True,
                    "timestamp_field": "updated_at",
                    "watermark_field": "since",
                    "window_end_field": "until",
                    "initial_watermark": "2024-01-01T00:00:00Z",
                },
                "transform": {"add_metadata": True},
            },
            "streaming": {"enabled": True, "poll_interval": f"{interval:g}s"},
            "output": [{"type": "local", "config": {"path": str(folder / "out")}}],
            "dead_letter": {"path": str(folder / "dead_letter")},
            "watermark_store": {"type": "local", "path": str(folder / "control.db")},
        }
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(interval: float, seconds: float, rate: int, prism: str) -> None:
    """One streaming run polling every `interval` seconds for `seconds` while the API gains `rate` records a
    second; prints one line."""
    with tempfile.TemporaryDirectory() as workdir, SampleApi(Dataset(days=0)) as api:
        stop = threading.Event()

        def feed() -> None:
            while not stop.wait(1.0):
                api.dataset.add_records(rate)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        start = datetime.now(UTC)
        options = ["--runner=PrismRunner", f"--prism_location={prism}"]
        config = _config(api.url, Path(workdir), interval)
        report = run_locally(config, options, start, start + timedelta(seconds=seconds))
        stop.set()
        feeder.join()
        rows = [json.loads(line) for path in Path(workdir, "out").rglob("*.jsonl") for line in path.open()]
        served = len(api.dataset.ids_between(None, report.watermarks_after["items"]))
    waits = [(parse_timestamp(r["_extracted_at"]) - parse_timestamp(r["updated_at"])).total_seconds() for r in rows]
    p50, p95, most = _percentile(waits, 0.5), _percentile(waits, 0.95), max(waits)
    latency = report.polls.latency_ms if report.polls else None
    metric_max = latency.greatest / 1000 if latency else float("nan")
    polls = report.run.endpoint_stats["items"]
    print(
        f"poll {interval:g} s: {len(rows)} records polled ({served} served before the watermark, "
        f"{len(rows) - len({r['id'] for r in rows})} twice), {int(polls['polls'])} polls "
        f"({int(polls['polls_failed'])} failed, {report.counters['polls_skipped']} ticks skipped); latency "
        f"p50 {p50:.2f} s ({p50 / interval:.2f}x), p95 {p95:.2f} s ({p95 / interval:.2f}x), "
        f"max {most:.2f} s ({most / interval:.2f}x); record_latency_ms max {metric_max:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each run polls")
    parser.add_argument("--intervals", type=float, nargs="+", default=[2.0, 5.0], help="poll intervals (s)")
    parser.add_argument("--rate", type=int, default=20, help="records the API gains a second")
    parser.add_argument("--prism_location", default=".tools/prism")
    args = parser.parse_args()
    for interval in args.intervals:
        measure(interval, args.seconds, args.rate, args.prism_location)


if __name__ == "__main__":
    main()
