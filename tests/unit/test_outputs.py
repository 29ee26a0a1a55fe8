"""What the factory gives the writers (their `config` section and an OutputContext), what each writer makes of it
(folders, tables, schema files), and what `register_output` accepts."""

from __future__ import annotations

from typing import Any

import pytest

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.outputs import OUTPUT_TYPES
from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.outputs.base import OutputContext, OutputEndpoint
from beam_api_pipeline.outputs.bigquery import BigQueryOutput
from beam_api_pipeline.outputs.files import LocalOutput
from beam_api_pipeline.outputs.gcs import GcsOutput
from beam_api_pipeline.run.factory import PipelineFactory

LOCAL = {"type": "local", "config": {"path": "/data/out"}}
GCS = {"type": "gcs", "config": {"bucket": "b", "prefix": "raw/{endpoint}/dt={window_date}/"}}
BIGQUERY = {"type": "bigquery", "config": {"project": "my-project", "dataset_id": "raw", "table_id": "events"}}


def config(endpoints: dict[str, Any], output: list[dict], **api: Any) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "pipeline_id": "acme",
            "api_config": {
                "base_url": "https://api.example.com",
                "endpoints": endpoints,
                "watermark": {"initial_watermark": "2024-01-01T00:00:00Z", "time_format": "epoch"},
                **api,
            },
            "output": output,
        }
    )


TWO_ENDPOINTS = {"issues": {"path": "/issues", "primary_key": "id"}, "labels": {"path": "/labels"}}


def test_the_context_holds_what_the_writers_read_of_the_config():
    renamed = {"transform": {"rename": {"updated_at": "changed"}}}
    made = config(TWO_ENDPOINTS, [LOCAL], **renamed)

    context = PipelineFactory.output_context(made, "run-1")

    assert context == OutputContext(
        pipeline_id="acme",
        run_id="run-1",
        streaming=False,
        endpoints={
            "issues": OutputEndpoint("id", timestamp_column="changed", time_format="epoch", schema_contract="evolve"),
            "labels": OutputEndpoint(None, timestamp_column="changed", time_format="epoch", schema_contract="evolve"),
        },
        timestamp_columns=frozenset({"changed"}),
    )


def test_outputs_of_gives_each_enabled_output_its_section_and_the_one_context():
    disabled = {**GCS, "enabled": False}
    made = config(TWO_ENDPOINTS, [disabled, LOCAL, BIGQUERY])

    outputs = PipelineFactory.outputs_of(made, "run-1")

    assert [type(output) for output in outputs] == [LocalOutput, BigQueryOutput]
    assert [output.settings for output in outputs] == [made.output[1].config, made.output[2].config]
    assert outputs[0].context is outputs[1].context == PipelineFactory.output_context(made, "run-1")


def test_a_refused_output_is_named_by_its_index_among_all_outputs():
    refused = {"type": "bigquery", "config": {**BIGQUERY["config"], "method": "streaming_inserts", "schema": "auto"}}
    made = config(TWO_ENDPOINTS, [{**LOCAL, "enabled": False}, refused])
    with pytest.raises(ConfigError) as caught:
        PipelineFactory.outputs_of(made, "run-1")
    assert caught.value.problems == [
        "output.1: output (bigquery raw.events).config.schema: auto (schema detection) needs method file_loads"
    ]


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        ({"issues": {"path": "/issues"}}, ("/data/out", "/data/out/issues-run-1.schema.json")),
        (TWO_ENDPOINTS, ("/data/out/issues", "/data/out/issues/issues-run-1.schema.json")),
    ],
    ids=["one-endpoint", "two-endpoints"],
)
def test_local_files_get_a_folder_per_endpoint_only_when_there_are_several(endpoints, expected):
    output = PipelineFactory.output_of(config(endpoints, [LOCAL]), 0, "run-1")
    assert (output.directory("issues"), output.schema_file("issues")) == expected


def test_a_gcs_schema_file_sits_above_the_dated_folders():
    output = PipelineFactory.output_of(config(TWO_ENDPOINTS, [GCS]), 0, "run-1")
    assert isinstance(output, GcsOutput)
    assert output.schema_file("labels") == "gs://b/raw/labels/labels-run-1.schema.json"


@pytest.mark.parametrize(
    ("endpoints", "table"),
    [({"issues": {"path": "/issues"}}, "my-project.raw.events"), (TWO_ENDPOINTS, "my-project.raw.events_issues")],
    ids=["one-endpoint", "two-endpoints"],
)
def test_a_bigquery_table_gets_the_endpoint_suffix_only_when_there_are_several(endpoints, table):
    output = PipelineFactory.output_of(config(endpoints, [BIGQUERY]), 0, "run-1")
    assert output.table("issues", None) == TableName.parse(table)


def test_every_type_the_config_takes_has_a_class():
    assert OUTPUT_TYPES == ("bigquery", "gcs", "local")
    assert sorted(PipelineFactory._outputs) == sorted(OUTPUT_TYPES)


def test_register_output_replaces_the_class_of_a_type(monkeypatch):
    monkeypatch.setattr(PipelineFactory, "_outputs", dict(PipelineFactory._outputs))  # restored after the test

    class AuditedLocalOutput(LocalOutput):
        pass

    PipelineFactory.register_output("local", AuditedLocalOutput)

    output = PipelineFactory.output_of(config(TWO_ENDPOINTS, [LOCAL]), 0, "run-1")
    assert type(output) is AuditedLocalOutput and output.directory("labels") == "/data/out/labels"


def test_register_output_refuses_a_type_the_config_does_not_take(monkeypatch):
    monkeypatch.setattr(PipelineFactory, "_outputs", dict(PipelineFactory._outputs))
    with pytest.raises(ValueError) as caught:
        PipelineFactory.register_output("parquet", LocalOutput)
    assert str(caught.value) == (
        "output type 'parquet' is not one the config takes (bigquery, gcs, local): "
        "register_output replaces the class of one of them"
    )
    assert "parquet" not in PipelineFactory._outputs
