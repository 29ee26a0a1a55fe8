"""ApiPipelineOptions: template parameters as the launcher passes them, their checks and the config overrides."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.config import (
    BigQueryOutputConfig,
    BigQueryWatermarkStoreConfig,
    GcsOutputConfig,
    LocalOutputConfig,
    LocalWatermarkStoreConfig,
)
from beam_api_pipeline.config.options import (
    TemplateParameters,
    apply_overrides,
    read_parameters,
    read_template_run,
    worker_log_args,
)
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.runners import is_dataflow


def config_json(**changes: Any) -> str:
    """A minimal pipeline config as inline JSON, with top-level `changes`."""
    config = {
        "pipeline_id": "acme",
        "api_config": {"base_url": "https://api.example.com", "endpoints": {"issues": {"path": "/issues"}}},
        **changes,
    }
    return json.dumps(config)


def run_of(*args: str, **changes: Any):
    return read_template_run(PipelineOptions([f"--pipeline_config={config_json(**changes)}", *args]))


def problems_of(*args: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read_parameters(PipelineOptions(list(args)))
    return caught.value.problems


def test_every_parameter_is_read_from_name_equals_value_arguments():
    parameters = read_parameters(
        PipelineOptions(
            [
                "--runner=DataflowRunner",
                "--project=my-project",
                "--pipeline_config=gs://my-bucket/pipelines/acme.yaml",
                "--env_config=gs://my-bucket/env/prod.yaml",
                "--start_time=2024-01-01",
                "--end_time=2024-01-08T06:30:00+02:00",
                "--watermark_table=my-project.control.watermarks",
                "--output_table=raw.acme_issues",
                "--output_path=gs://data-lake/raw/acme/",
                "--log_level=DEBUG",
            ]
        )
    )
    assert parameters.pipeline_config == "gs://my-bucket/pipelines/acme.yaml"
    assert parameters.env_config == "gs://my-bucket/env/prod.yaml"
    assert parameters.start_time == datetime(2024, 1, 1, tzinfo=UTC)
    assert parameters.end_time == datetime(2024, 1, 8, 4, 30, tzinfo=UTC)
    assert parameters.watermark_table == "my-project.control.watermarks"
    assert parameters.output_table == "raw.acme_issues"
    assert parameters.output_path == "gs://data-lake/raw/acme/"
    assert parameters.log_level == "DEBUG"


def test_missing_config_and_bad_values_are_each_named_on_one_line():
    assert problems_of("--end_time=yesterday", "--log_level=loud", "--output_path=s3://bucket/x") == [
        "--pipeline_config: required",
        "--end_time: expected an ISO 8601 time such as 2024-01-01T00:00:00Z, got 'yesterday'",
        "--output_path: expected a gs://bucket/prefix path or a local path, got 's3://bucket/x'",
        "--log_level: expected one of: DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'",
    ]


def test_a_timestamp_of_the_right_shape_that_is_no_date_is_refused():
    assert problems_of("--pipeline_config=a.yaml", "--start_time=2024-13-01") == [
        "--start_time: expected an ISO 8601 time such as 2024-01-01T00:00:00Z, got '2024-13-01'"
    ]


def test_tables_must_be_fully_qualified_where_the_store_needs_it():
    assert problems_of("--pipeline_config=a.yaml", "--watermark_table=control.watermarks") == [
        "--watermark_table: expected a BigQuery table as project.dataset.table or project:dataset.table, "
        "got 'control.watermarks'"
    ]


def test_a_refused_config_value_is_not_echoed_it_may_hold_credentials():
    problems = problems_of('--pipeline_config={"token": "hunter2"', "--env_config=ftp://host/env.yaml")
    assert problems == [
        "--pipeline_config: expected a gs:// or local path to a .yaml, .yml or .json file, "
        "or the config as inline JSON",
        "--env_config: expected a gs:// or local path to a .yaml, .yml or .json file, or the file as inline JSON",
    ]


def test_start_must_come_before_end():
    assert problems_of("--pipeline_config=a.yaml", "--start_time=2024-01-02", "--end_time=2024-01-02") == [
        "--start_time: must be before --end_time"
    ]


def test_an_empty_value_counts_as_not_given():
    parameters = read_parameters(PipelineOptions(["--pipeline_config=a.yaml", "--output_table=", "--log_level="]))
    assert parameters.output_table is None and parameters.log_level is None


def test_inline_json_config_loads_without_overrides_unchanged():
    run = run_of()
    assert run.config.pipeline_id == "acme"
    assert run.config.output == []
    assert run.config.watermark_store == LocalWatermarkStoreConfig()
    assert (run.start_time, run.end_time, run.log_level) == (None, None, "INFO")


def test_config_errors_keep_the_loader_wording():
    with pytest.raises(ConfigError) as caught:
        read_template_run(PipelineOptions(['--pipeline_config={"pipeline_id": "Bad Id"}']))
    assert caught.value.problems == [
        "<inline JSON>: pipeline_id: must start with a lowercase letter and contain only a-z, 0-9 and _",
        "<inline JSON>: api_config: required",
    ]


def test_watermark_table_replaces_the_store_and_reads_the_console_form():
    run = run_of("--watermark_table=my-project:control.watermarks")
    assert run.config.watermark_store == BigQueryWatermarkStoreConfig(table="my-project.control.watermarks")


def test_output_table_retargets_the_bigquery_output_and_keeps_its_settings():
    bigquery = {
        "type": "bigquery",
        "enabled": False,
        "config": {"project": "old-project", "dataset_id": "old", "table_id": "t", "write_disposition": "truncate"},
    }
    local = {"type": "local", "config": {"path": "/tmp/out"}}
    run = run_of("--output_table=raw.acme_{endpoint}", output=[local, bigquery])
    assert run.config.output[0] == LocalOutputConfig.model_validate(local)
    retargeted = run.config.output[1]
    assert isinstance(retargeted, BigQueryOutputConfig) and retargeted.enabled
    settings = retargeted.config
    assert (settings.project, settings.dataset_id, settings.table_id) == ("old-project", "raw", "acme_{endpoint}")
    assert settings.write_disposition == "truncate"

    run = run_of("--output_table=new-project.raw.issues", output=[bigquery])
    settings = run.config.output[0].config
    assert (settings.project, settings.dataset_id, settings.table_id) == ("new-project", "raw", "issues")


def test_output_table_adds_a_bigquery_output_when_there_is_none():
    run = run_of("--output_table=my-project.raw.issues")
    assert run.config.output == [
        BigQueryOutputConfig.model_validate(
            {"config": {"project": "my-project", "dataset_id": "raw", "table_id": "issues"}}
        )
    ]


def test_output_table_refuses_a_config_with_two_bigquery_outputs():
    table = {"type": "bigquery", "config": {"dataset_id": "raw", "table_id": "t"}}
    with pytest.raises(ConfigError) as caught:
        run_of("--output_table=raw.issues", output=[table, {"type": "local", "config": {"path": "x"}}, table])
    assert caught.value.problems == [
        "--output_table: the config has 2 bigquery outputs (output.0, output.2); it can stand for only one"
    ]


def test_output_path_turns_a_local_output_into_gcs_keeping_the_shared_settings():
    local = {"type": "local", "config": {"path": "./out", "batch_size": 25}}
    run = run_of("--output_path=gs://data-lake/raw/acme/", output=[local])
    assert run.config.output == [
        GcsOutputConfig.model_validate({"config": {"bucket": "data-lake", "prefix": "raw/acme/", "batch_size": 25}})
    ]


def test_output_path_moves_a_gcs_output_keeping_all_its_settings():
    gcs = {"type": "gcs", "config": {"bucket": "old", "prefix": "p/", "batch_size": 7, "compression": "gzip"}}
    run = run_of("--output_path=gs://new-bucket", output=[gcs])
    settings = run.config.output[0].config
    assert (settings.bucket, settings.prefix, settings.batch_size, settings.compression) == (
        "new-bucket",
        "",
        7,
        "gzip",
    )


def test_output_path_adds_a_local_output_and_leaves_bigquery_alone():
    bigquery = {"type": "bigquery", "config": {"dataset_id": "raw", "table_id": "t"}}
    run = run_of("--output_path=/tmp/flex/{endpoint}", output=[bigquery])
    assert run.config.output[0] == BigQueryOutputConfig.model_validate(bigquery)
    assert run.config.output[1] == LocalOutputConfig.model_validate({"config": {"path": "/tmp/flex/{endpoint}"}})


def test_output_path_refuses_a_config_with_two_file_outputs():
    outputs = [{"type": "local", "config": {"path": "a"}}, {"type": "gcs", "config": {"bucket": "b"}}]
    with pytest.raises(ConfigError) as caught:
        run_of("--output_path=/tmp/x", output=outputs)
    assert caught.value.problems == [
        "--output_path: the config has 2 local or gcs outputs (output.0, output.1); it can stand for only one"
    ]


def test_env_config_supplies_rate_limits_and_log_level_and_the_parameter_wins(tmp_path):
    env = json.dumps({"service": {"log_level": "WARNING"}, "rate_limits": {"default_rps": 3, "max_concurrent": 2}})
    run = run_of(f"--env_config={env}")
    assert (run.config.api_config.rate_limit, run.config.api_config.max_concurrent_requests) == (3, 2)
    assert run.log_level == "WARNING"
    env_file = tmp_path / "env.yaml"
    env_file.write_text("service: {log_level: ERROR}\n")
    assert run_of(f"--env_config={env_file}", "--log_level=DEBUG").log_level == "DEBUG"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("my-project.raw.t", ("my-project", "raw", "t")),
        ("my-project:raw.t", ("my-project", "raw", "t")),
        ("example.com:my-project.raw.t", ("example.com:my-project", "raw", "t")),
        ("raw.t_{endpoint}", (None, "raw", "t_{endpoint}")),
    ],
)
def test_output_table_reads_every_form_of_the_table_name(table, expected):
    project, dataset_id, table_id = expected
    settings = run_of(f"--output_table={table}").config.output[0].config
    assert (settings.project, settings.dataset_id, settings.table_id) == (project, dataset_id, table_id)


@pytest.mark.parametrize(
    ("parameter", "value", "problem"),
    [
        ("watermark_table", "raw.t", "expected project.dataset.table or project:dataset.table, got 'raw.t'"),
        (
            "output_table",
            "p.raw.t",
            "expected project.dataset.table, project:dataset.table or dataset.table, got 'p.raw.t'",
        ),
    ],
)
def test_overrides_not_read_through_the_parameters_are_still_checked(parameter, value, problem):
    config = read_template_run(PipelineOptions([f"--pipeline_config={config_json()}"])).config
    with pytest.raises(ConfigError) as caught:
        apply_overrides(config, TemplateParameters(pipeline_config="-", **{parameter: value}))
    assert caught.value.problems == [f"--{parameter}: {problem}"]


@pytest.mark.parametrize(
    ("runner", "expected"),
    [("DataflowRunner", True), ("dataflow", True), ("DirectRunner", False), ("PrismRunner", False), (None, False)],
)
def test_only_dataflow_runs_are_submitted_without_waiting(runner, expected):
    args = [f"--runner={runner}"] if runner else []
    assert is_dataflow(PipelineOptions(args)) is expected


def test_workers_get_the_log_level_unless_already_set():
    assert worker_log_args(["--runner=DataflowRunner"], "DEBUG") == [
        "--runner=DataflowRunner",
        "--default_sdk_harness_log_level=DEBUG",
    ]
    given = ["--default_sdk_harness_log_level=ERROR"]
    assert worker_log_args(given, "DEBUG") == given


def test_watermark_table_keeps_a_domain_scoped_project():
    run = run_of("--watermark_table=example.com:my-project:control.watermarks")
    assert run.config.watermark_store == BigQueryWatermarkStoreConfig(table="example.com:my-project.control.watermarks")
