"""metadata.json: the template's parameters as Dataflow sees them agree with the options the entry point reads."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.config.options import PATTERNS, ApiPipelineOptions, read_parameters

METADATA = json.loads((Path(__file__).resolve().parents[2] / "metadata.json").read_text())
PARAMETERS = {parameter["name"]: parameter for parameter in METADATA["parameters"]}
PARAM_TYPES = {"TEXT", "GCS_READ_FILE", "GCS_WRITE_FOLDER", "GCS_READ_FOLDER", "GCS_WRITE_FILE", "BIGQUERY_TABLE"}

#: One value per parameter that its format must refuse.
BAD_VALUES = {
    "pipeline_config": "s3://bucket/pipeline.yaml",
    "env_config": "gs://bucket/env.txt",
    "start_time": "yesterday",
    "end_time": "2024-01-01 00:00",
    "watermark_table": "watermarks",
    "output_table": "my-project.raw.issues.extra",
    "output_path": "https://example.com/out",
    "log_level": "verbose",
    "run_id": "run-1",
    "backfill": "yes",
}


def option_names() -> set[str]:
    parser = argparse.ArgumentParser()
    ApiPipelineOptions._add_argparse_args(parser)
    return {action.dest for action in parser._actions if action.dest != "help"}


def documented_examples(parameter: dict) -> list[str]:
    """The values quoted in backticks in a parameter's help text."""
    return re.findall(r"`([^`]+)`", parameter["helpText"])


def test_metadata_names_the_template():
    assert METADATA["name"] == "beam_api_pipeline"
    assert "API" in METADATA["description"]


def test_metadata_and_the_options_parser_declare_the_same_parameters():
    assert [parameter["name"] for parameter in METADATA["parameters"]] == list(PARAMETERS)  # no duplicates
    assert set(PARAMETERS) == option_names() == set(PATTERNS)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_parameter_is_described_and_only_the_config_is_required(name):
    parameter = PARAMETERS[name]
    assert parameter["label"] and parameter["helpText"]
    assert parameter["isOptional"] is (name != "pipeline_config")
    assert parameter["paramType"] in PARAM_TYPES


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_regex_is_the_one_the_entry_point_checks(name):
    assert PARAMETERS[name]["regexes"] == [PATTERNS[name]]


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_regex_accepts_the_documented_examples_and_refuses_a_bad_value(name):
    (regex,) = PARAMETERS[name]["regexes"]
    examples = documented_examples(PARAMETERS[name])
    assert examples, f"{name}: helpText quotes no example"
    for example in examples:
        assert re.search(regex, example), f"{name}: {example!r}"
        other = [] if name == "pipeline_config" else ["--pipeline_config=a.yaml"]
        read_parameters(PipelineOptions([*other, f"--{name}={example}"]))  # the entry point agrees
    assert not re.search(regex, BAD_VALUES[name])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pipeline_config", "./pipelines/acme.yml"),
        ("pipeline_config", '{\n  "pipeline_id": "acme"\n}'),
        ("start_time", "2024-01-01T00:00:00.250Z"),
        ("end_time", "2024-01-01T00:00:00"),  # naive means UTC
        ("watermark_table", "example.com:my-project.control.watermarks"),
        ("output_table", "my-project:raw.issues"),
        ("output_path", "./output/acme"),
    ],
)
def test_other_forms_the_docs_mention_are_accepted(name, value):
    assert re.search(PARAMETERS[name]["regexes"][0], value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pipeline_config", "gs://Bucket_Caps/pipeline.yaml"),
        ("pipeline_config", "pipeline.toml"),
        ("start_time", "2024-01-01T00:00:00 UTC"),
        ("watermark_table", "my-project.control"),
        ("output_table", "raw"),
        ("output_path", "gs://b"),
    ],
)
def test_near_misses_are_refused(name, value):
    assert not re.search(PARAMETERS[name]["regexes"][0], value)
