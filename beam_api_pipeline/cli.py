"""The command line: `python -m beam_api_pipeline run|validate|watermark show|demo`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.errors import ConfigError, PipelineError
from beam_api_pipeline.manager import PipelineManager, RunReport
from beam_api_pipeline.timeformat import parse_timestamp
from beam_api_pipeline.watermark.store import open_store
from beam_api_pipeline.windowing import format_utc

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _timestamp(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2024-01-01T00:00:00Z, got {text!r}"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beam_api_pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a pipeline; other --options go to Beam")
    run.add_argument("--config", required=True, help="pipeline YAML/JSON file")
    run.add_argument("--env_config", help="environment YAML supplying defaults")
    run.add_argument("--start_time", type=_timestamp, help="start of the run (default: stored watermark)")
    run.add_argument("--end_time", type=_timestamp, help="end of the run (default: now)")

    validate = commands.add_parser("validate", help="check a configuration file")
    validate.add_argument("--config", required=True)
    validate.add_argument("--env_config")

    watermark = commands.add_parser("watermark", help="watermark commands")
    watermark_commands = watermark.add_subparsers(dest="watermark_command", required=True)
    show = watermark_commands.add_parser("show", help="print each endpoint's stored watermark as JSON")
    show.add_argument("--config", required=True)

    demo = commands.add_parser("demo", help="run the demo pipeline twice against the bundled sample API")
    demo.add_argument("--config", default="templates/pipelines/demo.yaml")
    demo.add_argument("--workdir", default="./demo-output", help="the demo config's output and state folder")
    return parser


def format_report(report: RunReport) -> str:
    """A short human summary of one run."""
    run, counters = report.run, report.counters
    lines = [
        f"run {run.run_id}: {run.status}",
        f"  windows: {len(report.plan.tasks)} planned, {run.windows_done} done, {run.windows_failed} failed",
        f"  pages: {counters['pages']}  requests: {counters['requests']}  retries: {counters['retries']}",
        f"  records written: {run.records_processed}  files written: {counters['files_written']}",
    ]
    for endpoint, before in report.plan.watermarks_before.items():
        after = report.watermarks_after.get(endpoint)
        lines.append(f"  watermark {endpoint}: {_show(before)} -> {_show(after)}")
    if counters["dead_letter_files"]:
        lines.append(f"  dead letters: {counters['dead_letter_files']} file(s)")
    lines.extend(f"  error: {error}" for error in run.errors)
    return "\n".join(lines)


def _show(moment: datetime | None) -> str:
    return format_utc(moment) if moment else "(none)"


def _run(args: argparse.Namespace, beam_args: list[str]) -> int:
    config = load_pipeline_config(args.config, args.env_config)
    report = PipelineManager().execute_pipeline(config, beam_args, args.start_time, args.end_time)
    print(format_report(report))
    return EXIT_OK if report.succeeded else EXIT_FAILED


def _validate(args: argparse.Namespace) -> int:
    config = load_pipeline_config(args.config, args.env_config)
    endpoints = ", ".join(config.api_config.endpoints)
    print(f"{args.config}: valid (pipeline {config.pipeline_id}, endpoints: {endpoints})")
    return EXIT_OK


def _watermark_show(args: argparse.Namespace) -> int:
    config = load_pipeline_config(args.config)
    store = open_store(config.watermark_store)
    try:
        for endpoint in config.api_config.endpoints:
            watermark = store.get_watermark(config.pipeline_id, endpoint)
            row = {
                "pipeline_id": config.pipeline_id,
                "endpoint": endpoint,
                "watermark": watermark and format_utc(watermark),
            }
            print(json.dumps(row))
    finally:
        store.close()
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the command, and return its exit code."""
    args, beam_args = _parser().parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # WriteToText warns about each empty sink (a run without dead letters has one); that is expected here.
    logging.getLogger("apache_beam.io.filebasedsink").setLevel(logging.ERROR)
    if beam_args and args.command != "run":
        print(f"error: unrecognized arguments: {' '.join(beam_args)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "run":
            return _run(args, beam_args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "watermark":
            return _watermark_show(args)
        from beam_api_pipeline.demo import run_demo

        return run_demo(args.config, args.workdir)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:
        logger.debug("run failed", exc_info=True)
        print(
            f"error: the run failed: {type(error).__name__}: {str(error).strip().splitlines()[-1:]}",
            file=sys.stderr,
        )
        return EXIT_FAILED
