"""The checks a pipeline passes before anything is planned, built or submitted, in one place: `validate` runs
them, and so do `run`, the Flex Template entry (`flex_template.py`) and `launch` before they start. Given the same Beam
options as `run`, `validate` gives the same verdict.

- runner settings with which Beam loses records (`runners.check_runner_options`);
- `extractor_class`: a registered or built-in name, or a class that can be loaded; what its requests cannot carry
  out (`BaseExtractor.request_problems`: an endpoint without window bounds, a page size above the API's cap);
- each endpoint's pagination fits `parallel_config` (`parallel.range_paging`);
- each enabled output can be created from its configuration (a registered type, what the output refuses in its
  settings, such as a bad BigQuery schema) and, for BigQuery, has a project (`config.project` or `--project`);
- on Dataflow, no BigQuery `method: storage_write_api`: Beam runs it through a Java expansion service that the
  template's image does not hold (no JRE);
- on Dataflow, nothing the job needs is on this machine or on a worker's own disk: the watermark store, file
  outputs, the dead letter, an address only this machine reaches (`core.local_urls`: the API's `base_url`, the
  OAuth `token_url`, the Redis of `rate_limit_mode: shared`), and
  `${file:...}` / `${env:...}` references, which the workers resolve.

Each problem is one line `<file>: <key>: <message>`; a runner setting is `--<option>: <message>`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.references import references
from beam_api_pipeline.core.errors import ConfigError, OutputError
from beam_api_pipeline.core.local_urls import is_local_only
from beam_api_pipeline.core.runners import check_runner_options, is_dataflow, is_local_fn_api
from beam_api_pipeline.fetch.range_rules import range_paging
from beam_api_pipeline.outputs.bigquery import BigQueryOutput
from beam_api_pipeline.run.factory import PipelineFactory

_GCS = "gs://"
_ON_WORKER_DISKS = "on the Dataflow workers' disks, which are lost when the job ends"
_USE_A_SECRET = "use a ${secret:projects/P/secrets/S} reference, or the value itself"
_WORKERS_LACK = {
    "file": "${file:...} is read on the Dataflow workers, which do not have this machine's files",
    "env": "${env:...} is read on the Dataflow workers, which do not have this machine's environment variables",
}


def dataflow_args(project: str) -> list[str]:
    """The Beam options a job launched on Dataflow in `project` runs with, as far as the checks are concerned."""
    return ["--runner=DataflowRunner", f"--project={project}"]


def check_config(config: PipelineConfig, source: str | None = None, beam_args: list[str] | None = None) -> None:
    """Raise a ConfigError with every problem `config_problems` finds."""
    problems = config_problems(config, source, beam_args)
    if problems:
        raise ConfigError(problems)


def config_problems(config: PipelineConfig, source: str | None = None, beam_args: list[str] | None = None) -> list[str]:
    """Every problem a run of `config` (loaded from `source`) with `beam_args` would stop at before it starts."""
    options = PipelineOptions(beam_args or [])
    in_options = _problems_of(check_runner_options, options)
    in_config = _problems_of(PipelineFactory.extractor_class, config)
    if not in_config:
        in_config.extend(PipelineFactory.extractor_class(config).request_problems(config))
    for endpoint in config.api_config.endpoints:
        in_config.extend(_problems_of(range_paging, config.api_config, endpoint))
    in_config.extend(_output_problems(config, options.view_as(GoogleCloudOptions).project))
    if is_dataflow(options):
        in_config.extend(_dataflow_problems(config))
    if options.view_as(StandardOptions).streaming and not config.streaming.enabled:
        in_config.append("--streaming: needs streaming.enabled: true (a batch run leaves --streaming out)")
    if config.streaming.enabled and is_local_fn_api(options):
        in_config.append(
            "streaming.enabled: needs --runner=PrismRunner (or DataflowRunner): Beam's local FnApiRunner runs no "
            "streaming pipeline"
        )
    label = source or f"pipeline {config.pipeline_id}"
    return in_options + [f"{label}: {problem}" for problem in in_config]


def _problems_of(check: Callable[..., object], *args: Any) -> list[str]:
    """The lines of the ConfigError `check(*args)` raises; none when it passes."""
    try:
        check(*args)
    except ConfigError as error:
        return error.problems
    return []


def _output_problems(config: PipelineConfig, project: str | None) -> list[str]:
    """What creating each enabled output refuses and, for BigQuery, a table without a project."""
    problems = []
    for index, _ in config.enabled_outputs():
        try:
            output = PipelineFactory.output_of(config, index, run_id="")
            if isinstance(output, BigQueryOutput):
                for endpoint in config.api_config.endpoints:
                    output.table(endpoint, project)
        except ConfigError as error:
            problems.extend(error.problems)
        except OutputError as error:
            problems.append(f"output.{index}: {error}")
    return problems


def _dataflow_problems(config: PipelineConfig) -> list[str]:
    """What a Dataflow job of `config` could not reach, or would lose when its workers stop."""
    problems = []
    if config.watermark_store.type == "local":
        problems.append(
            "watermark_store.type: local keeps watermarks in a SQLite file that the Dataflow workers cannot share; "
            "use watermark_store: {type: bigquery, table: project.dataset.table}"
        )
    for index, output in config.enabled_outputs():
        if output.type == "local" and not output.config.path.startswith(_GCS):
            problems.append(f"output.{index}.type: local writes files {_ON_WORKER_DISKS}; use type gcs or bigquery")
        if output.type == "bigquery" and output.config.method == "storage_write_api":
            problems.append(
                f"output.{index}.config.method: storage_write_api runs through Beam's Java expansion service, which "
                "the template's image lacks (no Java; the launcher would download it from Maven); use file_loads, "
                "or streaming_inserts for rows that show within seconds"
            )
    dead_letter = config.dead_letter
    if dead_letter is None:
        problems.append(
            f"dead_letter: not set, so dead letters go to {PipelineFactory.dead_letter_location(config)}, "
            f"{_ON_WORKER_DISKS}; give dead_letter: {{path: gs://bucket/prefix}} or {{table: project.dataset.table}}"
        )
    elif dead_letter.path is not None and not dead_letter.path.startswith(_GCS):
        problems.append(
            f"dead_letter.path: a local folder is {_ON_WORKER_DISKS}; use a gs:// path or "
            "dead_letter: {table: project.dataset.table}"
        )
    for path, url in _addresses(config):
        if path == "api_config.rate_limit_store" and is_local_only(url):
            problems.append(
                f"{path}: a Redis on this machine is out of the Dataflow workers' reach; give the address of one "
                "they reach, such as a Memorystore instance in the job's network"
            )
        elif is_local_only(url):
            problems.append(
                f"{path}: names this machine (localhost, 127.0.0.0/8, ::1, 0.0.0.0 or a file: URL), which the "
                "Dataflow workers do not reach; give an address they reach"
            )
    for path, scheme in dict.fromkeys(references(config)):
        if scheme in _WORKERS_LACK:
            problems.append(f"{path}: {_WORKERS_LACK[scheme]}; {_USE_A_SECRET}")
    return problems


def _addresses(config: PipelineConfig) -> list[tuple[str, str]]:
    """(key path, URL) of each address the workers of a job of `config` fetch from, as written (a login call goes
    to base_url's own origin: `LoginCredentials.login_origin_problem`). Not `alerts.webhook`: `launch` and
    `status` send alerts from where they run too."""
    api = config.api_config
    found = [("api_config.base_url", api.base_url)]
    credentials = api.auth_config.auth_credentials
    credentials_path = "api_config.auth_config.auth_credentials"
    if hasattr(credentials, "token_url"):
        found.append((f"{credentials_path}.token_url", credentials.token_url))
    if api.rate_limit_store is not None:
        found.append(("api_config.rate_limit_store", api.rate_limit_store))
    return found
