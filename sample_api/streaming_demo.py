"""`make demo-streaming` (`python -m sample_api.streaming_demo`): the streaming demo pipeline on Prism, polling
the bundled sample API every 5 seconds for 30 seconds while the API gains 4 records a second."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.run.local_run import run_locally
from beam_api_pipeline.run.report import format_report
from sample_api import SampleApi
from sample_api.data import Dataset

RECORDS_PER_SECOND = 4


def run_streaming_demo(config_path: str, workdir: str, seconds: float, prism: str) -> int:
    """Start the sample API with no records, add RECORDS_PER_SECOND a second, poll until `seconds` from now on
    Prism (`prism`: its binary), print the report and what was written against what the API served."""
    shutil.rmtree(workdir, ignore_errors=True)
    with SampleApi(Dataset(days=0)) as api:
        os.environ["SAMPLE_API_URL"] = api.url
        stop = threading.Event()
        feeder = threading.Thread(target=_feed, args=(api, stop), daemon=True)
        feeder.start()
        config = load_pipeline_config(config_path)
        start = datetime.now(UTC)
        end = start + timedelta(seconds=seconds)
        print(f"sample API on {api.url}: {RECORDS_PER_SECOND} new records a second; polling until {format_utc(end)}")
        options = ["--runner=PrismRunner", f"--prism_location={prism}"]
        report = run_locally(config, options, start, end)
        stop.set()
        feeder.join()
        print(format_report(report))
        written = Counter(row_id for row_id in _written_ids(Path(workdir)))
        watermark = report.watermarks_after["items"]
        served = api.dataset.ids_between(None, watermark)
        twice = sum(count > 1 for count in written.values())
        print(
            f"records the API served before the watermark {format_utc(watermark)}: {len(served)}; written: "
            f"{len(written)} ids, {twice} of them twice"
        )
    return 0 if report.succeeded else 1


def _feed(api: SampleApi, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        api.dataset.add_records(RECORDS_PER_SECOND)


def _written_ids(workdir: Path) -> list[int]:
    files = sorted((workdir / "output").rglob("items-*.jsonl"))
    return [json.loads(line)["id"] for path in files for line in path.read_text().splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sample_api.streaming_demo", description=__doc__)
    parser.add_argument("--config", default="templates/pipelines/demo_streaming.yaml")
    parser.add_argument("--workdir", default="./demo-output/streaming", help="the config's output and state folder")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to poll")
    parser.add_argument("--prism_location", default=".tools/prism", help="the Prism binary (`make prism`)")
    args = parser.parse_args()
    return run_streaming_demo(args.config, args.workdir, args.seconds, args.prism_location)


if __name__ == "__main__":
    sys.exit(main())
