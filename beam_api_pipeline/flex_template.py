"""The Flex Template entry point (``FLEX_TEMPLATE_PYTHON_PY_FILE``): template parameters in, a launched run out.

The Dataflow launcher runs ``python /template/beam_api_pipeline/flex_template.py --runner=DataflowRunner ...``; this
module then returns as soon as the job is submitted (the launcher must not wait for the job), its workers on this
same image when the launch names none (`gcp.workers_image`). Anywhere else,
``python -m beam_api_pipeline.flex_template --pipeline_config=...`` runs on DirectRunner, waits and reports the run.
Invalid parameters exit with code 2 and one line per problem.

It imports the package absolutely so that the image can run a copy of it from outside the package folder.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PLAN_JSON_REFUSED, exit_code_of
from beam_api_pipeline.config.options import (
    TemplateRun,
    read_template_run,
    streaming_flag,
    template_help,
    worker_log_args,
)
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.logging_setup import configure_logging
from beam_api_pipeline.core.runners import is_dataflow
from beam_api_pipeline.gcp.workers_image import with_workers_image, workers_image
from beam_api_pipeline.plan.run_plan import RunPlan, new_run_id
from beam_api_pipeline.run.local_run import run_locally
from beam_api_pipeline.run.prepare import prepare_run
from beam_api_pipeline.run.report import format_report
from beam_api_pipeline.run.run_records import release_lease
from beam_api_pipeline.run.validate import check_config

logger = logging.getLogger("beam_api_pipeline.flex_template")


def build_pipeline(run: TemplateRun, beam_args: list[str], job_alerts: bool = False) -> tuple[beam.Pipeline, RunPlan]:
    """The run's checked, planned, unstarted pipeline (planning reads the stored watermarks and records the run
    with its service); with `job_alerts` the job sends the run's alert itself. The pipeline's lease is taken first
    for the job's run id, for `job_lease_ttl` (`launch` took it already under that id: this renews it); the job's
    commit releases it, and so does a failure here."""
    config = run.config
    try:
        check_config(config, run.source, beam_args)  # before the store is opened, which may be BigQuery's
    except BaseException:
        if run.run_id:  # `launch` took the lease for this job, which will never start
            release_lease(config, run.run_id)
        raise
    run_id = run.run_id or new_run_id(datetime.now(UTC))
    with opened_store(config.watermark_store) as store:
        lease.take(store, config.pipeline_id, run_id, config.watermark_store.job_lease_ttl)
        try:
            return prepare_run(
                config,
                store,
                beam_args,
                run.start_time,
                run.end_time,
                run_id=run_id,
                service=run.service,
                job_alerts=job_alerts,
                backfill=run.backfill,
                job_holds_lease=True,
            )
        except BaseException:
            store.release_lease(config.pipeline_id, run_id)
            raise


def launch(argv: list[str]) -> int:
    """Launch the run ``argv`` describes; the exit code of the launcher process."""
    if "-h" in argv or "--help" in argv:
        print(template_help("flex_template.py"))
        return EXIT_OK
    if any(arg.split("=", 1)[0] == "--plan_json" for arg in argv):
        print(PLAN_JSON_REFUSED, file=sys.stderr)  # not a template parameter: Beam would drop it unsaid
        return EXIT_USAGE
    try:
        argv = streaming_flag(argv)
        if is_dataflow(PipelineOptions(argv)):
            argv = with_workers_image(argv)  # the workers run this image when the launch names none
        options = PipelineOptions(argv)
        run = read_template_run(options)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    configure_logging(run.log_level)
    beam_args = worker_log_args(argv, run.log_level)
    if is_dataflow(options):
        return exit_code_of(lambda: _submit(run, beam_args), "launch")
    return exit_code_of(lambda: _run_here(run, beam_args), "run")


def _submit(run: TemplateRun, beam_args: list[str]) -> int:
    """Submit the job to Dataflow and return at once: the launcher must not wait for the job, so the job sends
    its run's alert."""
    pipeline, plan = build_pipeline(run, beam_args, job_alerts=True)
    try:
        pipeline.run()
    except BaseException:
        release_lease(run.config, plan.run_id)
        raise
    logger.info(
        "run %s of %s submitted to Dataflow; workers run %s",
        plan.run_id,
        run.config.pipeline_id,
        workers_image(beam_args) or "Beam's image, with the package from --setup_file",
    )
    return EXIT_OK


def _run_here(run: TemplateRun, beam_args: list[str]) -> int:
    """Run on a local runner, wait, and print the run report."""
    report = run_locally(
        run.config,
        beam_args,
        run.start_time,
        run.end_time,
        run_id=run.run_id,
        source=run.source,
        service=run.service,
        backfill=run.backfill,
    )
    print(format_report(report))
    return EXIT_OK if report.succeeded else EXIT_FAILED


def main() -> None:
    """Console entry: ``sys.argv`` as template parameters and Beam options."""
    sys.exit(launch(sys.argv[1:]))


if __name__ == "__main__":
    main()
