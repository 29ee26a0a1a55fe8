"""`file_format` of the local and gcs outputs in the config: the three formats, an unknown one refused, gzip only
for JSON Lines, and the format kept when `--output_path` turns a local output into a GCS one."""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.config.options import read_template_run
from beam_api_pipeline.core.errors import ConfigError
from tests.support import items_config, write_yaml

NO_API = "http://127.0.0.1:9"


def output_problems(tmp_path: Path, output: dict) -> list[str]:
    path = write_yaml(tmp_path / "p.yaml", items_config(NO_API, tmp_path, output=[output]))
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path)
    return [line.removeprefix(f"{path}: ") for line in caught.value.problems]


@pytest.mark.parametrize("file_format", ["jsonl", "parquet", "avro"])
def test_local_and_gcs_outputs_take_each_file_format(tmp_path, file_format):
    outputs = [
        {"type": "local", "config": {"path": str(tmp_path / "out"), "file_format": file_format}},
        {"type": "gcs", "config": {"bucket": "lake", "file_format": file_format}},
    ]
    config = load_pipeline_config(write_yaml(tmp_path / "p.yaml", items_config(NO_API, tmp_path, output=outputs)))
    assert [output.config.file_format for output in config.output] == [file_format, file_format]


def test_an_unknown_file_format_is_refused(tmp_path):
    assert output_problems(tmp_path, {"type": "local", "config": {"path": "out", "file_format": "csv"}}) == [
        "output.0.config.file_format: must be one of: jsonl, parquet, avro"
    ]


@pytest.mark.parametrize("file_format", ["parquet", "avro"])
def test_gzip_is_refused_for_columnar_files(tmp_path, file_format):
    output = {"type": "gcs", "config": {"bucket": "lake", "file_format": file_format, "compression": "gzip"}}
    assert output_problems(tmp_path, output) == [
        f"output.0.config.compression: gzip is for file_format jsonl; {file_format} files compress their own blocks"
    ]


def test_output_path_keeps_the_file_format_of_a_local_output_it_turns_into_gcs(tmp_path):
    config = items_config(
        NO_API, tmp_path, output=[{"type": "local", "config": {"path": "out", "file_format": "avro"}}]
    )
    path = write_yaml(tmp_path / "p.yaml", config)
    run = read_template_run(PipelineOptions([f"--pipeline_config={path}", "--output_path=gs://lake/raw/"]))
    [output] = run.config.output
    assert (output.type, output.config.bucket, output.config.file_format) == ("gcs", "lake", "avro")
