"""File outputs: JSON Lines, Parquet or Avro (`file_format`) through WriteToText, at most `batch_size` rows per
file, new files every run."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms.window import BoundedWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from beam_api_pipeline.core.beam_windows import BundleWindows
from beam_api_pipeline.core.errors import OutputError
from beam_api_pipeline.outputs.base import BaseOutput, OutputContext
from beam_api_pipeline.outputs.columnar import REJECTED, SUFFIXES, EncodeFileFn, RunSchemas
from beam_api_pipeline.outputs.jsonl import json_line_bytes


def run_file_prefix(directory: str, endpoint: str, run_id: str) -> str:
    """Where one run writes one endpoint's files: `<directory>/<endpoint>-<run_id>-SSSSS-of-NNNNN.jsonl` (or
    `.parquet`, `.avro`).

    WriteToText writes into a `beam-temp-*` folder and renames the files into place only once all of them
    are written, so a run that dies leaves no `*.jsonl` file in `directory` itself."""
    return posixpath.join(directory.rstrip("/"), f"{endpoint}-{run_id}")


def schema_file_name(file_stem: str) -> str:
    """The schema file next to a run's files named `<file_stem>-...`: `<file_stem>.schema.json`."""
    return f"{file_stem}.schema.json"


class FileOutput(BaseOutput):
    """What the local and GCS outputs share: `file_format`, and for Parquet and Avro the run's schemas their
    files are encoded with (`outputs.columnar`) and the rows those refuse."""

    def __init__(self, settings: Any, context: OutputContext):
        super().__init__(settings, context)
        self._schemas: RunSchemas | None = None
        self._rejected: list[pvalue.PCollection] = []

    @property
    def suffix(self) -> str:
        """The file name suffix of `file_format` (before any compression's)."""
        return SUFFIXES.get(self.settings.file_format, ".jsonl")

    def use_schemas(self, schemas: RunSchemas) -> None:
        self._schemas = schemas

    def rejected_rows(self) -> list[pvalue.PCollection]:
        return list(self._rejected)

    def encoded(self, files: pvalue.PCollection, endpoint: str, destination: str, keyed: bool = False):
        """`files` (each the rows of one file, or `(key, rows)` when `keyed`) encoded in the columnar
        `file_format` (`columnar.EncodeFileFn`); the rows the columns refuse are kept for `rejected_rows`."""
        if self._schemas is None:
            raise OutputError(f"file_format {self.settings.file_format}: no run schemas (WriteOutputs gives them)")
        target = self.context.endpoints[endpoint]
        rejection = {
            "pipeline_id": self.context.pipeline_id,
            "run_id": self.context.run_id,
            "endpoint": endpoint,
            "destination": destination,
        }
        encode = EncodeFileFn(
            self.settings.file_format,
            endpoint,
            self._schemas.before.get(endpoint, []),
            {target.timestamp_column: target.time_format},
            rejection,
            keyed,
        )
        observed = pvalue.AsDict(self._schemas.observed)
        encoded = files | "EncodeFiles" >> beam.ParDo(encode, observed).with_outputs(REJECTED, main="files")
        self._rejected.append(encoded[REJECTED])
        return encoded["files"]


class LocalOutput(FileOutput):
    """`type: local`: files in `file_format` under `config.path` (`{endpoint}` may appear in it)."""

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
        """Each element handed to WriteToText is one whole file of at most `batch_size` rows, written as it is."""
        directory = self.directory(endpoint)
        if self.settings.file_format == "jsonl":
            contents = batches | "ToFileContents" >> beam.ParDo(_FilesFn(self.settings.batch_size, _FileContents))
        else:
            files = batches | "ToFileRows" >> beam.ParDo(_FilesFn(self.settings.batch_size, _FileRows))
            contents = self.encoded(files, endpoint, directory)
        return contents | "WriteToText" >> beam.io.WriteToText(
            run_file_prefix(directory, endpoint, self.context.run_id),
            file_name_suffix=self.suffix,
            append_trailing_newlines=self.settings.file_format == "jsonl",
            max_records_per_shard=1,
            skip_if_empty=True,
        )


class _FilesFn(beam.DoFn):
    """Gathers a bundle's rows into files of at most `lines_per_file` rows, per Beam window (a streaming run's
    polls each have one): each file as `contents_class` takes it (_FileContents: JSON lines, as UTF-8 bytes
    WriteToText writes as they are; _FileRows: the rows)."""

    def __init__(self, lines_per_file: int, contents_class: type):
        self._lines_per_file = lines_per_file
        self._contents_class = contents_class

    def start_bundle(self) -> None:
        self._windows = BundleWindows()
        self._files: dict[BoundedWindow, Any] = {}

    def process(
        self,
        batch: list,
        window: BoundedWindow = beam.DoFn.WindowParam,
        timestamp: Timestamp = beam.DoFn.TimestampParam,
    ) -> Iterator[Any]:
        contents = self._files.setdefault(self._windows.saw(window, timestamp), self._contents_class())
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


class _FileRows:
    """The rows of one file being gathered."""

    def __init__(self) -> None:
        self._rows: list = []
        self.lines = 0

    def add(self, rows: list) -> None:
        self._rows.extend(rows)
        self.lines += len(rows)

    def take(self) -> list:
        """The rows gathered so far; the next file starts empty."""
        rows, self._rows, self.lines = self._rows, [], 0
        return rows
