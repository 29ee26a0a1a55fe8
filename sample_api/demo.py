"""`make demo` (`python -m sample_api.demo`): the demo pipeline run twice against the bundled sample API, the
second run incremental."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.run.local_run import run_locally
from beam_api_pipeline.run.report import format_report
from sample_api import SampleApi

FIRST_RUN_END = datetime(2024, 1, 8, tzinfo=UTC)
SECOND_RUN_END = datetime(2024, 1, 11, tzinfo=UTC)


def run_demo(config_path: str, workdir: str) -> int:
    """Start the sample API, run the demo config up to 2024-01-08 and then on to 2024-01-11, print both."""
    shutil.rmtree(workdir, ignore_errors=True)
    with SampleApi() as api:
        os.environ["SAMPLE_API_URL"] = api.url
        print(f"sample API on {api.url}: {len(api.dataset)} records from 2024-01-01, 48 a day")
        config = load_pipeline_config(config_path)
        exit_code = 0
        for title, end in (("first run", FIRST_RUN_END), ("second run (incremental)", SECOND_RUN_END)):
            report = run_locally(config, end_time=end)
            print(f"\n== {title}, up to {end:%Y-%m-%d} ==\n{format_report(report)}")
            exit_code = exit_code or (0 if report.succeeded else 1)
    print()
    for folder in sorted({path.parent for path in Path(workdir).rglob("*.jsonl")}):
        files = sorted(folder.glob("*.jsonl"))
        rows = sum(len(path.read_text().splitlines()) for path in files)
        print(f"{folder}: {len(files)} files, {rows} rows; first row of {files[0].name}:")
        print(f"  {files[0].read_text().splitlines()[0]}")
    return exit_code


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sample_api.demo", description=__doc__)
    parser.add_argument("--config", default="templates/pipelines/demo.yaml")
    parser.add_argument("--workdir", default="./demo-output", help="the demo config's output and state folder")
    args = parser.parse_args()
    return run_demo(args.config, args.workdir)


if __name__ == "__main__":
    sys.exit(main())
