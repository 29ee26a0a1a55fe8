"""File outputs: JSON Lines through WriteToText, at most `batch_size` rows per file, new files every run."""

from __future__ import annotations

import posixpath

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.outputs.base import BaseOutput
from beam_api_pipeline.outputs.jsonl import to_json_line


def run_file_prefix(directory: str, endpoint: str, run_id: str) -> str:
    """Where one run writes one endpoint's files: `<directory>/<endpoint>-<run_id>-SSSSS-of-NNNNN.jsonl`.

    WriteToText writes into a `beam-temp-*` folder and renames the files into place only once all of them
    are written, so a run that dies leaves no `*.jsonl` file in `directory` itself."""
    return posixpath.join(directory.rstrip("/"), f"{endpoint}-{run_id}")


class LocalOutput(BaseOutput):
    """`type: local`: JSON Lines files under `config.path` (`{endpoint}` may appear in it)."""

    def directory(self, endpoint: str) -> str:
        path = self.settings.path
        if "{endpoint}" in path:
            return path.replace("{endpoint}", endpoint)
        return posixpath.join(path, endpoint) if len(self.pipeline_config.api_config.endpoints) > 1 else path

    def write(self, rows: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        return (
            rows
            | "ToJsonLines" >> beam.Map(to_json_line)
            | "WriteToText"
            >> beam.io.WriteToText(
                run_file_prefix(self.directory(endpoint), endpoint, self.run_id),
                file_name_suffix=".jsonl",
                max_records_per_shard=self.settings.batch_size,
                skip_if_empty=True,
            )
        )
