"""Parquet and Avro files of an endpoint's rows, with the columns of the run's schema: the schema its rows were
held to (the plan's `schemas_before`: the history's latest version, or a declared one) extended by the fields the
run's rows show (`records.row_schemas.RowSchemas`), as the commit records it and the `.schema.json` beside the files
says. A run whose rows grew a field writes files with the new column.

The schema is known only once the run's rows are seen, so the files are encoded here (pyarrow, fastavro) with the
schema as a side input, rather than by WriteToParquet / WriteToAvro, which take one schema when the graph is built;
the local and GCS outputs then write the encoded files as they write JSON Lines files."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam import pvalue

from beam_api_pipeline.outputs.arrow_schema import arrow_schema
from beam_api_pipeline.outputs.avro_schema import avro_schema
from beam_api_pipeline.outputs.rejected import SCHEMA_MISMATCH, rejected_row
from beam_api_pipeline.outputs.typed_rows import ValueMismatch, typed_row
from beam_api_pipeline.schemas.infer import Fields, extended_fields

#: The file name suffix of each columnar `file_format`.
SUFFIXES = {"parquet": ".parquet", "avro": ".avro"}
#: The tag of the rows a file's columns do not take, as `outputs.rejected.rejected_row` dicts.
REJECTED = "rejected"


@dataclass(frozen=True)
class RunSchemas:
    """What gives each endpoint's run schema: `observed`, `(endpoint, fields)` from RowSchemas (read as a side
    input), extended over `before` (per endpoint, the fields its rows were held to; none: only what they show)."""

    observed: pvalue.PCollection
    before: Mapping[str, Fields]


def run_fields(before: Fields, observed: Mapping[str, Fields], endpoint: str) -> Fields:
    """The columns of `endpoint`'s files: `before` extended by what its rows showed (`observed`), as the commit's
    `record_run_schema` extends the latest version."""
    return extended_fields(before, observed.get(endpoint, []))


def avro_name(text: str) -> str:
    """`text` as an Avro name: letters, digits and `_`, not starting with a digit."""
    name = re.sub(r"\W", "_", text, flags=re.ASCII)
    return name if name and not name[0].isdigit() else f"_{name}"


def encode_file(rows: list[dict[str, Any]], fields: Fields, file_format: str, name: str) -> bytes:
    """A whole Parquet or Avro file (`file_format`) of `rows` (as `typed_row` gives them) with the columns of
    `fields`; an Avro file's record is `name`. Parquet blocks are snappy-compressed, Avro ones deflated."""
    buffer = io.BytesIO()
    if file_format == "parquet":
        pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(fields)), buffer, compression="snappy")
    else:
        schema = fastavro.parse_schema(avro_schema(fields, avro_name(name)))
        fastavro.writer(buffer, schema, rows, codec="deflate")
    return buffer.getvalue()


class EncodeFileFn(beam.DoFn):
    """In: the rows of one file (a list), or `(key, rows)` with `keyed`. Out: the file's bytes (`(key, bytes)`),
    in `file_format` with the columns of `endpoint`'s run schema (`observed`: the side input of RunSchemas, a dict);
    none when no row fits. Each row the columns do not take goes to REJECTED, with the reason."""

    def __init__(
        self,
        file_format: str,
        endpoint: str,
        before: Fields,
        time_formats: Mapping[str, str],
        rejection: Mapping[str, str],
        keyed: bool = False,
    ):
        self._format = file_format
        self._endpoint = endpoint
        self._before = before
        self._time_formats = dict(time_formats)
        self._rejection = dict(rejection)
        self._keyed = keyed

    def process(self, element: Any, observed: Mapping[str, Fields]) -> Iterator[Any]:
        key, rows = element if self._keyed else (None, element)
        fields = run_fields(self._before, observed, self._endpoint)
        typed = []
        for row in rows:
            try:
                typed.append(typed_row(row, fields, self._time_formats))
            except ValueMismatch as error:
                yield pvalue.TaggedOutput(
                    REJECTED,
                    rejected_row(**self._rejection, error_type=SCHEMA_MISMATCH, error=str(error), row=row),
                )
        if typed:
            contents = encode_file(typed, fields, self._format, self._endpoint)
            yield (key, contents) if self._keyed else contents
