"""The Flex Template's parameters: ``ApiPipelineOptions`` (the names in ``metadata.json``), their validation,
and how they turn into the ``PipelineConfig`` of one run.

Overrides, applied to the loaded config (``apply_overrides``); a table may be given as ``project:dataset.table``
too (the form the Dataflow console's table picker gives), read as ``project.dataset.table``:

- ``watermark_table`` replaces ``watermark_store`` with ``{type: bigquery, table: <watermark_table>}``.
- ``output_table`` (``project.dataset.table`` or ``dataset.table``) points the config's one ``bigquery`` output
  at that table and enables it; its other settings (and ``project``, when not given) are kept. Without a
  ``bigquery`` output, one with default settings is added. A config with several is an error.
- ``output_path`` replaces the config's one file output (``local`` or ``gcs``) by an enabled output of the kind
  the path names: ``gs://bucket/prefix`` gives ``{type: gcs, bucket, prefix}``, any other path
  ``{type: local, path}``. Of the replaced output, all other settings are kept when it was of the same kind,
  ``file_format`` and ``batch_size`` when it was not. Without a file output, one is added; a config with
  several is an error. ``bigquery`` outputs are left alone.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions
from pydantic import ValidationError

from beam_api_pipeline.config import EnvConfig, PipelineConfig, ServiceConfig, load_env_config, load_pipeline_config
from beam_api_pipeline.config.loading import source_label
from beam_api_pipeline.config.problems import validation_problems
from beam_api_pipeline.core.bigquery_names import ALL_FORMS, FULL_FORMS, TableParts, parse_table_name, table_name_regex
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.timeformat import parse_timestamp

_GCS_PATH = r"gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/\S*)?"
_CONFIG_FILE = r"(gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/\S+|[^\s:{][^:\n\r]*)\.(yaml|yml|json)"
_INLINE_JSON = r"\{[\s\S]*\}"
_TIMESTAMP = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: Each template parameter's format, as the regex metadata.json gives it (Java and Python read them alike).
PATTERNS: dict[str, str] = {
    "pipeline_config": f"^({_CONFIG_FILE}|{_INLINE_JSON})$",
    "env_config": f"^({_CONFIG_FILE}|{_INLINE_JSON})$",
    "start_time": f"^{_TIMESTAMP}$",
    "end_time": f"^{_TIMESTAMP}$",
    "watermark_table": f"^{table_name_regex()}$",
    "output_table": f"^{table_name_regex(project_optional=True, endpoint_template=True)}$",
    "output_path": rf"^({_GCS_PATH}|[^:\s]+)$",
    "log_level": f"^({'|'.join(LOG_LEVELS)})$",
    "run_id": r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$",
    "backfill": "^(true|false)$",
}

#: What each format means, for the error when a value does not match it.
_RULES: dict[str, str] = {
    "pipeline_config": "expected a gs:// or local path to a .yaml, .yml or .json file, or the config as inline JSON",
    "env_config": "expected a gs:// or local path to a .yaml, .yml or .json file, or the file as inline JSON",
    "start_time": "expected an ISO 8601 time such as 2024-01-01T00:00:00Z",
    "end_time": "expected an ISO 8601 time such as 2024-01-01T00:00:00Z",
    "watermark_table": f"expected a BigQuery table as {FULL_FORMS}",
    "output_table": f"expected a BigQuery table as {ALL_FORMS}",
    "output_path": "expected a gs://bucket/prefix path or a local path",
    "log_level": f"expected one of: {', '.join(LOG_LEVELS)}",
    "run_id": "expected a run id such as 20240101T000000Z-1a2b3c4d",
    "backfill": "expected true or false",
}

#: Parameters whose values may hold credentials: never echoed in errors.
_CONFIDENTIAL = ("pipeline_config", "env_config")

_FILE_OUTPUTS = ("local", "gcs")
_SHARED_FILE_SETTINGS = ("file_format", "batch_size")


def template_help(prog: str) -> str:
    """The template parameters with their help, as ``--help`` shows them."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Run or launch a pipeline; options other than these go to Beam and Dataflow."
    )
    ApiPipelineOptions._add_argparse_args(parser)
    return parser.format_help()


class ApiPipelineOptions(PipelineOptions):
    """The template parameters, as ``--name=value``; every other option goes to Beam and Dataflow."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--pipeline_config", help="the pipeline config: a gs:// or local .yaml/.yml/.json path, or inline JSON"
        )
        parser.add_argument("--env_config", help="an environment file supplying defaults (path or inline JSON)")
        parser.add_argument("--start_time", help="start of the run, ISO 8601 (default: stored watermark - lookback)")
        parser.add_argument("--end_time", help="end of the run, ISO 8601 (default: now)")
        parser.add_argument("--watermark_table", help="project.dataset.table: keep watermarks in this BigQuery table")
        parser.add_argument("--output_table", help="[project.]dataset.table: write the bigquery output here")
        parser.add_argument("--output_path", help="gs://bucket/prefix or a local path: write the file output here")
        parser.add_argument("--log_level", help=f"one of {', '.join(LOG_LEVELS)} (default: INFO)")
        parser.add_argument("--run_id", help="the run's id (default: a new one); `launch` passes the one it records")
        parser.add_argument(
            "--backfill", help="true: read --start_time..--end_time and leave the stored watermarks (default: false)"
        )


@dataclass(frozen=True)
class TemplateParameters:
    """The template parameters of one launch, each checked against its format."""

    pipeline_config: str
    env_config: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    watermark_table: str | None = None
    output_table: str | None = None
    output_path: str | None = None
    log_level: str | None = None
    run_id: str | None = None
    backfill: bool = False


@dataclass(frozen=True)
class TemplateRun:
    """What a launch runs: the config with its overrides applied, the run's bounds and the log level; `source`
    names the config in messages and `service` is the environment file's."""

    config: PipelineConfig
    start_time: datetime | None
    end_time: datetime | None
    log_level: str
    run_id: str | None = None
    source: str | None = None
    service: ServiceConfig = field(default_factory=ServiceConfig)
    backfill: bool = False


def read_parameters(options: PipelineOptions) -> TemplateParameters:
    """The template parameters in ``options``; a ConfigError names every parameter that is missing or wrong."""
    given = options.view_as(ApiPipelineOptions)
    values = {name: _given(getattr(given, name)) for name in PATTERNS}
    problems = [f"--{name}: {problem}" for name, problem in _problems(values)]
    if problems:
        raise ConfigError(problems)
    times = {name: parse_timestamp(values[name]) if values[name] else None for name in ("start_time", "end_time")}
    if times["start_time"] and times["end_time"] and times["start_time"] >= times["end_time"]:
        raise ConfigError("--start_time: must be before --end_time")
    return TemplateParameters(**{**values, **times, "backfill": values["backfill"] == "true"})


def _given(value: Any) -> str | None:
    """The value as given; an empty one counts as not given."""
    if value is None:
        return None
    return str(value).strip() or None


def _problems(values: dict[str, str | None]) -> Iterator[tuple[str, str]]:
    """``(parameter, what is wrong)`` for each value that is missing or does not match its format."""
    for name, value in values.items():
        if value is None:
            if name == "pipeline_config":
                yield name, "required"
        elif not re.fullmatch(PATTERNS[name], value) or (name in ("start_time", "end_time") and not _parses(value)):
            yield name, _RULES[name] if name in _CONFIDENTIAL else f"{_RULES[name]}, got {value!r}"


def _parses(text: str) -> bool:
    try:
        parse_timestamp(text)
    except ValueError:
        return False
    return True


def read_template_run(options: PipelineOptions) -> TemplateRun:
    """The run the template parameters in ``options`` describe: config loaded, env defaults and overrides applied."""
    parameters = read_parameters(options)
    env = load_env_config(parameters.env_config) if parameters.env_config else EnvConfig()
    config = apply_overrides(load_pipeline_config(parameters.pipeline_config, env), parameters)
    log_level = parameters.log_level or env.service.log_level or "INFO"
    source = source_label(parameters.pipeline_config)
    return TemplateRun(
        config,
        parameters.start_time,
        parameters.end_time,
        log_level,
        parameters.run_id,
        source,
        env.service,
        parameters.backfill,
    )


def apply_overrides(config: PipelineConfig, parameters: TemplateParameters) -> PipelineConfig:
    """``config`` with ``watermark_table``, ``output_table`` and ``output_path`` applied (see the module doc); the
    store's lease settings are kept."""
    data = config.model_dump(by_alias=True)
    if parameters.watermark_table:
        table = ".".join(_table_parts("watermark_table", parameters.watermark_table))
        leases = {key: data["watermark_store"][key] for key in ("lease_ttl", "job_lease_ttl")}
        data["watermark_store"] = {"type": "bigquery", "table": table, **leases}
    if parameters.output_table:
        _set_output(data["output"], "output_table", ("bigquery",), _table_output(parameters.output_table))
    if parameters.output_path:
        _set_output(data["output"], "output_path", _FILE_OUTPUTS, _file_output(parameters.output_path))
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_problems(error, data, "template parameters")) from None


def _set_output(outputs: list[dict[str, Any]], parameter: str, types: tuple[str, ...], new: dict[str, Any]) -> None:
    """Replace the one output of one of ``types`` in ``outputs`` by ``new`` merged over it, or add ``new``."""
    found = [index for index, output in enumerate(outputs) if output["type"] in types]
    if len(found) > 1:
        where = ", ".join(f"output.{index}" for index in found)
        raise ConfigError(
            f"--{parameter}: the config has {len(found)} {' or '.join(types)} outputs ({where}); "
            "it can stand for only one"
        )
    if not found:
        outputs.append(new)
        return
    old = outputs[found[0]]
    kept = old["config"] if old["type"] == new["type"] else _shared_file_settings(old["config"])
    outputs[found[0]] = {**new, "config": {**kept, **new["config"]}}


def _shared_file_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings a local and a gcs output have in common."""
    return {key: settings[key] for key in _SHARED_FILE_SETTINGS if key in settings}


def _table_parts(parameter: str, table: str, **forms: bool) -> TableParts:
    """The parts of the table ``--parameter`` names (``forms``: see ``parse_table_name``); ConfigError if none."""
    try:
        return parse_table_name(table, **forms)
    except ValueError as error:
        raise ConfigError(f"--{parameter}: {error}, got {table!r}") from None


def _table_output(table: str) -> dict[str, Any]:
    project, dataset_id, table_id = _table_parts("output_table", table, project_optional=True, endpoint_template=True)
    settings = {"dataset_id": dataset_id, "table_id": table_id} | ({"project": project} if project else {})
    return {"type": "bigquery", "enabled": True, "config": settings}


def _file_output(path: str) -> dict[str, Any]:
    if path.startswith("gs://"):
        bucket, _, prefix = path.removeprefix("gs://").partition("/")
        return {"type": "gcs", "enabled": True, "config": {"bucket": bucket, "prefix": prefix}}
    return {"type": "local", "enabled": True, "config": {"path": path}}


def worker_log_args(beam_args: list[str], level: str) -> list[str]:
    """``beam_args`` with ``--default_sdk_harness_log_level=<level>`` unless they set it: workers log alike."""
    if any(arg.split("=", 1)[0] == "--default_sdk_harness_log_level" for arg in beam_args):
        return beam_args
    return [*beam_args, f"--default_sdk_harness_log_level={level}"]


def streaming_flag(argv: list[str]) -> list[str]:
    """``argv`` with the template parameter ``streaming=true`` (``--streaming=true``, as the Dataflow launcher
    passes it) as Beam's flag ``--streaming``, and ``--streaming=false`` left out: Beam's parser takes no value
    for it. Any other value is a ConfigError."""
    args = []
    for arg in argv:
        name, has_value, value = arg.partition("=")
        if name != "--streaming" or not has_value:
            args.append(arg)
        elif value.lower() == "true":
            args.append(name)
        elif value.lower() != "false":
            raise ConfigError(f"--streaming: expected true or false, got {value!r}")
    return args
