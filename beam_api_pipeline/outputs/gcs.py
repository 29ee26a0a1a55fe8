"""`type: gcs`: JSON Lines, Parquet or Avro files (`file_format`) under `gs://bucket/prefix`; `{window_date}` (and
`{endpoint}`) in the prefix give one folder per day of window; at most `batch_size` records per file, JSON Lines
optionally gzip-compressed."""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.gcp.clients import use_emulators
from beam_api_pipeline.outputs.files import FileOutput, schema_file_name
from beam_api_pipeline.outputs.jsonl import json_line_bytes

WINDOW_START_FIELD = "_window_start"


def window_date(row: Any, timestamp_column: str, time_format: str) -> str:
    """The day (YYYY-MM-DD, UTC) of the window `row` belongs to: its `_window_start` metadata when present,
    else its own timestamp (at `timestamp_column`, written in `time_format`)."""
    if isinstance(row, dict) and row.get(WINDOW_START_FIELD):
        return parse_timestamp(row[WINDOW_START_FIELD]).strftime("%Y-%m-%d")
    return parse_timestamp(get_path(row, timestamp_column), time_format).strftime("%Y-%m-%d")


def folder_for(bucket: str, prefix: str, endpoint: str, date: str) -> str:
    """`gs://bucket/<prefix with {endpoint} and {window_date} filled in>` without a trailing slash."""
    path = prefix.replace("{endpoint}", endpoint).replace("{window_date}", date).strip("/")
    return f"gs://{bucket}/{path}" if path else f"gs://{bucket}"


def _new_path(folder: str, file_stem: str, suffix: str) -> str:
    """A new file's path in `folder`: `<file_stem>-<random>.<suffix>`."""
    return posixpath.join(folder, f"{file_stem}-{uuid.uuid4().hex[:12]}{suffix}")


class _WriteFolderFn(beam.DoFn):
    """Writes one folder's rows as JSON Lines objects of at most `batch_size` rows each; yields their paths."""

    def __init__(self, file_stem: str, batch_size: int, compression: str):
        self._file_stem = file_stem
        self._batch_size = batch_size
        self._gzip = compression == "gzip"

    def setup(self) -> None:
        use_emulators()

    def _open(self, folder: str):
        path = _new_path(folder, self._file_stem, ".jsonl.gz" if self._gzip else ".jsonl")
        compression = CompressionTypes.GZIP if self._gzip else CompressionTypes.UNCOMPRESSED
        return path, FileSystems.create(path, mime_type="application/x-ndjson", compression_type=compression)

    def process(self, element: tuple[str, Iterable[Any]]) -> Iterator[str]:
        folder, rows = element
        path, handle, count = None, None, 0
        for row in rows:
            if handle is None:
                path, handle = self._open(folder)
            handle.write(json_line_bytes(row) + b"\n")
            count += 1
            if count == self._batch_size:
                handle.close()
                yield path
                handle, count = None, 0
        if handle is not None:
            handle.close()
            yield path


def _folder_files(element: tuple[str, Iterable[Any]], batch_size: int) -> Iterator[tuple[str, list]]:
    """One folder's rows as `(folder, rows)` of at most `batch_size` rows each."""
    folder, rows = element
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == batch_size:
            yield folder, chunk
            chunk = []
    if chunk:
        yield folder, chunk


class _WriteEncodedFn(beam.DoFn):
    """Writes each `(folder, file contents)` as one new object in the folder; yields its path."""

    def __init__(self, file_stem: str, suffix: str):
        self._file_stem = file_stem
        self._suffix = suffix

    def setup(self) -> None:
        use_emulators()

    def process(self, element: tuple[str, bytes]) -> Iterator[str]:
        folder, contents = element
        path = _new_path(folder, self._file_stem, self._suffix)
        with FileSystems.create(path, mime_type="application/octet-stream") as handle:
            handle.write(contents)
        yield path


class GcsOutput(FileOutput):
    """`type: gcs`. Each file is uploaded as one object, so a reader never sees half a file; a retried
    bundle may leave an extra file with the same rows (the rows carry `_run_id` when metadata is on)."""

    def schema_file(self, endpoint: str) -> str:
        """In the endpoint's folder: with `{window_date}` in the prefix, the folder above the dated ones."""
        undated = self.settings.prefix.split("{window_date}")[0].rpartition("/")[0]  # `dt={window_date}` too
        return schema_file_name(
            posixpath.join(folder_for(self.settings.bucket, undated, endpoint, ""), self._stem(endpoint))
        )

    def _stem(self, endpoint: str) -> str:
        return f"{endpoint}-{self.context.run_id}"

    def write(self, rows: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        use_emulators()
        settings = self.settings
        target = self.context.endpoints[endpoint]
        bucket, prefix = settings.bucket, settings.prefix
        file_stem = self._stem(endpoint)

        dated = "{window_date}" in prefix

        def keyed(row: Any) -> tuple[str, Any]:
            date = window_date(row, target.timestamp_column, target.time_format) if dated else ""
            return folder_for(bucket, prefix, endpoint, date), row

        folders = rows | "ByFolder" >> beam.Map(keyed) | "GroupByFolder" >> beam.GroupByKey()
        if settings.file_format == "jsonl":
            return folders | "WriteFiles" >> beam.ParDo(
                _WriteFolderFn(file_stem, settings.batch_size, settings.compression)
            )
        files = folders | "FolderFiles" >> beam.FlatMap(_folder_files, settings.batch_size)
        encoded = self.encoded(files, endpoint, f"gs://{bucket}/{prefix}", keyed=True)
        return encoded | "WriteFiles" >> beam.ParDo(_WriteEncodedFn(file_stem, self.suffix))
