"""File outputs: JSON Lines through WriteToText, at most `batch_size` rows per file, new files every run."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Iterator

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms.window import BoundedWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from beam_api_pipeline.core.beam_windows import BundleWindows
from beam_api_pipeline.outputs.base import BaseOutput
from beam_api_pipeline.outputs.jsonl import json_line_bytes


def run_file_prefix(directory: str, endpoint: str, run_id: str) -> str:
    """Where one run writes one endpoint's files: `<directory>/<endpoint>-<run_id>-SSSSS-of-NNNNN.jsonl`.

    WriteToText writes into a `beam-temp-*` folder and renames the files into place only once all of them
    are written, so a run that dies leaves no `*.jsonl` file in `directory` itself."""
    return posixpath.join(directory.rstrip("/"), f"{endpoint}-{run_id}")


def schema_file_name(file_stem: str) -> str:
    """The schema file next to a run's files named `<file_stem>-...`: `<file_stem>.schema.json`."""
    return f"{file_stem}.schema.json"


class LocalOutput(BaseOutput):
    """`type: local`: JSON Lines files under `config.path` (`{endpoint}` may appear in it)."""

    def directory(self, endpoint: str) -> str:
        path = self.settings.path
        if "{endpoint}" in path:
            return path.replace("{endpoint}", endpoint)
        return posixpath.join(path, endpoint) if len(self.context.endpoints) > 1 else path

    def schema_file(self, endpoint: str) -> str:
        return schema_file_name(run_file_prefix(self.directory(endpoint), endpoint, self.context.run_id))

    def write(self, rows: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        return self.write_batches(rows | "AsBatches" >> beam.Map(lambda row: [row]), endpoint)

    def write_batches(self, batches: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        """Each element handed to WriteToText is one whole file of at most `batch_size` lines."""
        return (
            batches
            | "ToFileContents" >> beam.ParDo(_JsonLinesFilesFn(self.settings.batch_size))
            | "WriteToText"
            >> beam.io.WriteToText(
                run_file_prefix(self.directory(endpoint), endpoint, self.context.run_id),
                file_name_suffix=".jsonl",
                max_records_per_shard=1,
                skip_if_empty=True,
            )
        )


class _JsonLinesFilesFn(beam.DoFn):
    """Gathers a bundle's rows as JSON lines (UTF-8 bytes, which WriteToText writes as they are) into file
    contents of at most `lines_per_file` lines, per Beam window (a streaming run's polls each have one)."""

    def __init__(self, lines_per_file: int):
        self._lines_per_file = lines_per_file

    def start_bundle(self) -> None:
        self._windows = BundleWindows()
        self._files: dict[BoundedWindow, _FileContents] = {}

    def process(
        self,
        batch: list,
        window: BoundedWindow = beam.DoFn.WindowParam,
        timestamp: Timestamp = beam.DoFn.TimestampParam,
    ) -> Iterator[bytes]:
        contents = self._files.setdefault(self._windows.saw(window, timestamp), _FileContents())
        start = 0
        while start < len(batch):
            rows = batch[start : start + self._lines_per_file - contents.lines]
            contents.add(rows)
            start += len(rows)
            if contents.lines == self._lines_per_file:
                yield contents.take()

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for window, contents in self._files.items():
            if contents.lines:
                yield self._windows.output(contents.take(), window)


class _FileContents:
    """The JSON lines of one file being gathered."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self.lines = 0

    def add(self, rows: list) -> None:
        if self.lines:
            self._buffer.write(b"\n")
        self._buffer.write(b"\n".join(map(json_line_bytes, rows)))
        self.lines += len(rows)

    def take(self) -> bytes:
        """The file gathered so far; the next one starts empty."""
        contents = self._buffer.getvalue()
        self._buffer = io.BytesIO()
        self.lines = 0
        return contents
