"""The command line: `python -m beam_api_pipeline <command>`: init, list, plan, run, launch, setup, status, runs,
replay, check, validate, alerts apply, watermark show, watermark set, schema show."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime, timedelta

from beam_api_pipeline.config import EnvConfig, PipelineConfig, load_env_config, load_pipeline_config
from beam_api_pipeline.control.schema_versions import format_schema_version
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.errors import ConfigError, PipelineError
from beam_api_pipeline.core.logging_setup import configure_logging
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.plan.estimate import load_estimate
from beam_api_pipeline.run.config_store import load_config_dir
from beam_api_pipeline.run.local_run import run_locally
from beam_api_pipeline.run.pipelines import Pipelines, chosen_endpoints, pipeline_summary
from beam_api_pipeline.run.report import format_report
from beam_api_pipeline.run.validate import config_problems

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: Why a launched run refuses `--plan_json` (`launch`, the Flex Template entry).
PLAN_JSON_REFUSED = (
    "--plan_json: a Dataflow job writes its run record itself and cannot keep a plan's estimate in it: compare "
    "`plan --report_json` with `status` or `runs` yourself, or plan then `run` locally"
)


def _timestamp(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2024-01-01T00:00:00Z, got {text!r}"
        ) from None


def _add_source(parser: argparse.ArgumentParser, required_id: bool = True) -> None:
    """--config FILE, or --config_dir DIR with --pipeline_id."""
    parser.add_argument("--config", help="pipeline YAML/JSON file (local or gs://)")
    parser.add_argument("--config_dir", help="folder or gs:// prefix of pipeline files")
    if required_id:
        parser.add_argument("--pipeline_id", help="with --config_dir: which pipeline")
    parser.add_argument("--env_config", help="environment YAML supplying defaults")


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start_time", type=_timestamp, help="start of the run (default: stored watermark); not after it"
    )
    parser.add_argument("--end_time", type=_timestamp, help="end of the run (default: now)")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="read --start_time..--end_time and leave the stored watermarks where they are",
    )


def _seconds(text: str) -> timedelta:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}")
    return timedelta(seconds=seconds)


def _add_lease_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait_for_lease",
        type=_seconds,
        default=timedelta(0),
        metavar="SECONDS",
        help="while another run of the pipeline holds its lease, wait this long for it (default 0: exit 2)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beam_api_pipeline", description=__doc__)
    parser.add_argument("--log_level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log_format", default="text", choices=["text", "json"], help="json: for Cloud Logging")
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="the pipelines of a config store, with watermarks and last runs")
    listing.add_argument("--config_dir", required=True)
    listing.add_argument("--env_config")
    listing.add_argument("--json", action="store_true", help="one JSON object per pipeline")

    run = commands.add_parser("run", help="run a pipeline locally and wait; other --options go to Beam")
    _add_source(run)
    _add_window_options(run)
    _add_lease_option(run)
    run.add_argument("--report_json", help="also write the run report as JSON to this path")
    run.add_argument("--no_progress", action="store_true", help="do not show progress")
    run.add_argument("--plan_json", help="a `plan --report_json` file: its estimate is kept beside the run's figures")

    launch = commands.add_parser("launch", help="launch the Flex Template on Dataflow")
    _add_source(launch)
    _add_window_options(launch)
    launch.add_argument("--project", required=True)
    launch.add_argument("--region", required=True)
    launch.add_argument("--template_path", required=True, help="gs:// path of the Flex Template spec")
    launch.add_argument("--config_gcs_path", help="gs:// path of the config for the job (else passed inline)")
    launch.add_argument("--max_workers", type=int)
    launch.add_argument("--service_account")
    launch.add_argument("--temp_location")
    launch.add_argument("--staging_location")
    launch.add_argument(
        "--sdk_container_image",
        help="the workers' image: the template's own (default: the image the template's launcher runs in)",
    )
    launch.add_argument("--subnetwork", help="the workers' subnetwork, regions/REGION/subnetworks/NAME")
    launch.add_argument(
        "--no_use_public_ips",
        dest="use_public_ips",
        action="store_false",
        default=None,
        help="workers get private IPs only (the subnetwork needs Private Google Access)",
    )
    launch.add_argument(
        "--print_request",
        action="store_true",
        help="print the launch request body as JSON instead of launching, for a scheduler (the job makes its run id)",
    )
    launch.add_argument("--plan_json", help="refused: only `run` keeps a plan's estimate in its run record")

    setup = commands.add_parser(
        "setup", help="create the control dataset and tables once, and print the IAM bindings a job needs"
    )
    _add_source(setup)
    setup.add_argument("--project", help="the Dataflow jobs' project (default: the control table's)")
    setup.add_argument(
        "--service_account",
        help="the jobs' service account (default beam-api-pipeline@PROJECT.iam.gserviceaccount.com)",
    )
    setup.add_argument("--temp_location", help="the jobs' gs:// temp location (its bucket is granted)")
    setup.add_argument("--sdk_container_image", help="the template's image (its repository is granted)")

    status = commands.add_parser("status", help="one run record (a launched run asks Dataflow)")
    status.add_argument("run_id")
    _add_source(status, required_id=False)
    status.add_argument("--project")
    status.add_argument("--region")

    runs = commands.add_parser("runs", help="a pipeline's run records, newest first")
    _add_source(runs)

    replay = commands.add_parser("replay", help="fetch a dead letter's windows and process its records again")
    _add_source(replay)
    replay.add_argument(
        "--dead_letter", required=True, help="a dead-letter file, folder or glob (local or gs://), or a BigQuery table"
    )
    replay.add_argument("--run_id", help="with a table: whose dead letters (default: the latest run's)")
    _add_lease_option(replay)

    check = commands.add_parser(
        "check", help="check a config against the live API: one line per check, nothing written, exit 0 or 1"
    )
    _add_source(check)
    check.add_argument("--endpoint", help="only this endpoint (and the parents it needs)")
    check.add_argument("--records", type=int, default=1000, help="read at most this many records (default 1000)")

    plan = commands.add_parser(
        "plan", help="estimate a run's windows, records, requests, time and Dataflow cost from a sample of the API"
    )
    _add_source(plan)
    plan.add_argument("--start_time", type=_timestamp, help="start of the range (default: stored watermark)")
    plan.add_argument("--end_time", type=_timestamp, help="end of the range (default: now)")
    plan.add_argument("--sample", type=int, default=20, help="windows whose first page is read (default 20)")
    plan.add_argument("--report_json", help="also write the plan as JSON to this path")
    plan.add_argument("--region", default="us-central1", help="Dataflow region priced (default us-central1)")
    plan.add_argument("--machine_type", default="n1-standard-1", help="Dataflow worker machine type")
    plan.add_argument(
        "--max_workers", type=int, default=100, help="Dataflow workers at most (default 100, Dataflow's default)"
    )
    plan.add_argument("--prices", help="JSON price table replacing the bundled one (plan/dataflow_prices.py)")

    validate = commands.add_parser(
        "validate", help="check configuration files as `run` would; other --options are Beam options, as for run"
    )
    _add_source(validate, required_id=False)

    alerts = commands.add_parser("alerts", help="alerting on GCP")
    alerts_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    apply = alerts_commands.add_parser(
        "apply", help="create or update the pipeline's log-based metrics and alert policies in Cloud Monitoring"
    )
    _add_source(apply)
    apply.add_argument("--project", required=True)

    watermark = commands.add_parser("watermark", help="watermark commands")
    watermark_commands = watermark.add_subparsers(dest="watermark_command", required=True)
    show = watermark_commands.add_parser("show", help="print each endpoint's stored watermark as JSON")
    _add_source(show)
    move = watermark_commands.add_parser(
        "set", help="move an endpoint's watermark forward on purpose, skipping the records before it unread"
    )
    _add_source(move)
    move.add_argument("--endpoint", required=True)
    move.add_argument("--to", required=True, type=_timestamp, help="the new watermark (ISO 8601)")
    move.add_argument("--reason", help="why, kept in the run record")

    schema = commands.add_parser("schema", help="schema history commands")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    schema_show = schema_commands.add_parser(
        "show", help="each endpoint's recorded BigQuery schema versions, oldest first, with their changes"
    )
    _add_source(schema_show)
    schema_show.add_argument("--endpoint", help="only this endpoint")

    init = commands.add_parser("init", help="start a pipeline file from an OpenAPI document")
    init.add_argument("--openapi", required=True, metavar="SPEC", help="the OpenAPI 3 document: a file or a URL")
    init.add_argument(
        "--endpoints", nargs="+", default=[], metavar="NAME_OR_PATH", help="write these (else list the endpoints)"
    )
    init.add_argument("--out", help="write the pipeline YAML here (default: print it)")
    init.add_argument("--base_url", help="the API's URL (default: the document's first server)")

    return parser


def _pipelines(args: argparse.Namespace) -> Pipelines:
    """The pipelines `--config` or `--config_dir` name, with the environment file's service."""
    env = load_env_config(args.env_config) if args.env_config else EnvConfig()
    if getattr(args, "config_dir", None):
        configs = load_config_dir(args.config_dir, args.env_config)
        sources = {pipeline_id: f"{args.config_dir} ({pipeline_id})" for pipeline_id in configs}
        return Pipelines(configs, sources, env.service)
    if getattr(args, "config", None):
        config = load_pipeline_config(args.config, env)
        return Pipelines({config.pipeline_id: config}, {config.pipeline_id: args.config}, env.service)
    raise ConfigError("give --config FILE or --config_dir DIR")


def _config(args: argparse.Namespace, pipelines: Pipelines) -> PipelineConfig:
    if args.config:
        return next(iter(pipelines.configs.values()))
    if not args.pipeline_id:
        raise ConfigError("--pipeline_id is required with --config_dir")
    return pipelines.config(args.pipeline_id)


def _list(args: argparse.Namespace, _beam_args: list[str]) -> int:
    configs = _pipelines(args).configs
    rows = [pipeline_summary(configs[pipeline_id]) for pipeline_id in sorted(configs)]
    if args.json:
        print("\n".join(json.dumps(row) for row in rows))
        return EXIT_OK
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        watermarks = ", ".join(f"{e}={w or '(none)'}" for e, w in row["watermarks"].items())
        print(
            f"{row['pipeline_id']} ({state}, {row['extractor']} -> {', '.join(row['outputs']) or 'no outputs'}): "
            f"{row['description']}"
        )
        print(f"  watermarks: {watermarks}; last run: {row['last_run_id'] or '(none)'} {row['last_run_status'] or ''}")
    return EXIT_OK


def _run(args: argparse.Namespace, beam_args: list[str]) -> int:
    pipelines = _pipelines(args)
    config = _config(args, pipelines)
    report = run_locally(
        config,
        beam_args,
        args.start_time,
        args.end_time,
        show_progress=not args.no_progress,
        source=pipelines.source(config),
        service=pipelines.service,
        backfill=args.backfill,
        wait_for_lease=args.wait_for_lease,
        estimate=load_estimate(args.plan_json) if args.plan_json else None,
    )
    print(format_report(report))
    if args.report_json:
        with open(args.report_json, "w", encoding="utf-8") as handle:
            json.dump(report.to_dict(), handle, indent=2)
    return EXIT_OK if report.succeeded else EXIT_FAILED


def _replay(args: argparse.Namespace, beam_args: list[str]) -> int:
    from beam_api_pipeline.run.replay import make_replay_plan, read_dead_letters

    pipelines = _pipelines(args)
    config = _config(args, pipelines)
    rows = read_dead_letters(args.dead_letter, config.pipeline_id, args.run_id)
    report = run_locally(
        config,
        beam_args,
        plan_run=lambda store: make_replay_plan(config, store, rows),
        source=pipelines.source(config),
        service=pipelines.service,
        wait_for_lease=args.wait_for_lease,
    )
    print(format_report(report))
    return EXIT_OK if report.succeeded else EXIT_FAILED


def _launch(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from beam_api_pipeline.gcp.dataflow import LaunchSettings
    from beam_api_pipeline.run.launch import launch_job, launch_request

    if args.plan_json:
        raise ConfigError(PLAN_JSON_REFUSED)
    pipelines = _pipelines(args)
    config = _config(args, pipelines)
    settings = LaunchSettings(
        args.project,
        args.region,
        args.template_path,
        max_workers=args.max_workers,
        service_account=args.service_account,
        temp_location=args.temp_location,
        sdk_container_image=args.sdk_container_image,
        subnetwork=args.subnetwork,
        use_public_ips=args.use_public_ips,
        staging_location=args.staging_location,
    )
    source = args.config_gcs_path or args.config
    if not source:
        raise ConfigError("launch needs --config FILE or --config_gcs_path gs://...")
    given = {
        "env_source": args.env_config,
        "source": pipelines.source(config),
        "service": pipelines.service,
        "backfill": args.backfill,
    }
    if args.print_request:
        print(json.dumps(launch_request(config, settings, source, args.start_time, args.end_time, **given), indent=2))
        return EXIT_OK
    run = launch_job(config, settings, source, args.start_time, args.end_time, **given)
    print(json.dumps({"run_id": run.run_id, "pipeline_id": run.pipeline_id, "job_id": run.job_id}))
    return EXIT_OK


def _setup(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from beam_api_pipeline.control.bigquery import create_control_tables
    from beam_api_pipeline.core.bigquery_names import TableName
    from beam_api_pipeline.run.setup import format_setup, job_bindings

    config = _config(args, _pipelines(args))
    store = config.watermark_store
    control_table = store.table if store.type == "bigquery" else None
    project = args.project or (TableName.parse(control_table).project if control_table else None)
    if project is None:
        raise ConfigError("--project: required when the watermark store is not BigQuery")
    account = args.service_account or f"beam-api-pipeline@{project}.iam.gserviceaccount.com"
    created = create_control_tables(control_table) if control_table else []
    bindings = job_bindings(config, project, args.temp_location, args.sdk_container_image)
    print(format_setup(created, control_table, bindings, account))
    return EXIT_OK


def _status(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from beam_api_pipeline.run.status import get_run_status

    dataflow = (args.project, args.region) if args.project and args.region else None
    run = get_run_status(args.run_id, _pipelines(args).configs.values(), dataflow)
    if run is None:
        print(f"error: no run {args.run_id}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(run.to_dict()))
    return EXIT_OK


def _runs(args: argparse.Namespace, _beam_args: list[str]) -> int:
    config = _config(args, _pipelines(args))
    with opened_store(config.watermark_store) as store:
        runs = store.list_runs(config.pipeline_id)
    for run in runs:
        print(json.dumps(run.to_dict()))
    return EXIT_OK


def _check(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from beam_api_pipeline.run.check import FAIL, check_sources

    lines = check_sources(_config(args, _pipelines(args)), args.endpoint, args.records)
    print("\n".join(map(str, lines)))
    return EXIT_FAILED if any(line.outcome == FAIL for line in lines) else EXIT_OK


def _plan(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from beam_api_pipeline.run.backfill_plan import plan_command

    print(plan_command(_config(args, _pipelines(args)), args))
    return EXIT_OK


def _validate(args: argparse.Namespace, beam_args: list[str]) -> int:
    pipelines = _pipelines(args)
    problems = [
        problem
        for config in pipelines.configs.values()
        for problem in config_problems(config, pipelines.source(config), beam_args)
    ]
    if problems:
        raise ConfigError(problems)
    source = args.config or args.config_dir
    for config in pipelines.configs.values():
        print(f"{source}: valid (pipeline {config.pipeline_id}, endpoints: {', '.join(config.api_config.endpoints)})")
    return EXIT_OK


def _alerts_apply(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from beam_api_pipeline.gcp.monitoring import apply_alerts

    print("\n".join(apply_alerts(_config(args, _pipelines(args)), args.project)))
    return EXIT_OK


def _watermark(args: argparse.Namespace, beam_args: list[str]) -> int:
    if args.watermark_command == "set":
        return _watermark_set(args, beam_args)
    return _watermark_show(args, beam_args)


def _watermark_set(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from beam_api_pipeline.run.watermark_set import set_watermark

    pipelines = _pipelines(args)
    print(set_watermark(_config(args, pipelines), args.endpoint, args.to, args.reason, pipelines.service))
    return EXIT_OK


def _watermark_show(args: argparse.Namespace, _beam_args: list[str]) -> int:
    config = _config(args, _pipelines(args))
    with opened_store(config.watermark_store) as store:
        for endpoint in config.api_config.endpoints:
            watermark = store.get_watermark(config.pipeline_id, endpoint)
            row = {
                "pipeline_id": config.pipeline_id,
                "endpoint": endpoint,
                "watermark": watermark and format_utc(watermark),
            }
            print(json.dumps(row))
    return EXIT_OK


def _schema_show(args: argparse.Namespace, _beam_args: list[str]) -> int:
    config = _config(args, _pipelines(args))
    endpoints = chosen_endpoints(config, args.endpoint)
    with opened_store(config.watermark_store) as store:
        for endpoint in endpoints:
            versions = store.schema_versions(config.pipeline_id, endpoint)
            lines = [line for version in versions for line in format_schema_version(version)]
            print("\n".join(lines or [f"{endpoint}: no schema recorded yet"]))
    return EXIT_OK


def _init(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from beam_api_pipeline.openapi.command import init_openapi

    print(init_openapi(args.openapi, args.endpoints, args.out, args.base_url), end="")
    return EXIT_OK


_COMMANDS = {
    "list": _list,
    "run": _run,
    "launch": _launch,
    "setup": _setup,
    "replay": _replay,
    "status": _status,
    "runs": _runs,
    "check": _check,
    "plan": _plan,
    "validate": _validate,
    "alerts": _alerts_apply,
    "watermark": _watermark,
    "schema": _schema_show,
    "init": _init,
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the command, and return its exit code."""
    args, beam_args = _parser().parse_known_args(argv)
    configure_logging(args.log_level, args.log_format)
    if beam_args and args.command not in ("run", "replay", "validate"):
        print(f"error: unrecognized arguments: {' '.join(beam_args)}", file=sys.stderr)
        return EXIT_USAGE
    return exit_code_of(lambda: _COMMANDS[args.command](args, beam_args), args.command)


def console_main() -> None:
    """The process entry (`python -m beam_api_pipeline`, `beam-api-pipeline`): run the command and exit. The
    objects left are frozen first, so that the interpreter does not collect Beam's object graph on the way
    out (half a second after a local run)."""
    code = main()
    gc.freeze()
    sys.exit(code)


def exit_code_of(command: Callable[[], int], name: str) -> int:
    """Run `command`; a bad configuration is exit 2 with one line per problem, any other failure exit 1 with
    one line (the traceback only at DEBUG)."""
    try:
        return command()
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:
        logger.debug("%s failed", name, exc_info=True)
        last_line = (str(error).strip().splitlines() or [""])[-1]
        print(f"error: {name} failed: {type(error).__name__}: {last_line}", file=sys.stderr)
        return EXIT_FAILED
