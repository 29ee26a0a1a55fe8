"""BaseOutput: one configured destination, applied once per endpoint; and what a writer is told of the run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apache_beam as beam
from apache_beam import pvalue

if TYPE_CHECKING:
    from beam_api_pipeline.outputs.columnar import RunSchemas


@dataclass(frozen=True)
class OutputEndpoint:
    """What a writer needs to know of one endpoint it writes."""

    #: the field a record's key is in (a BigQuery `merge` upserts on it); None: the records have no key
    primary_key: str | None
    #: the row column holding the watermark's `timestamp_field` (renamed as `transform.rename` says): which row a
    #: `merge` keeps, the day of a GCS `{window_date}` folder
    timestamp_column: str
    #: how that column's times are written (`watermark.time_format`)
    time_format: str
    #: the endpoint's `schema_contract` (`evolve`: a table gains the columns of new fields); None: not known
    schema_contract: str | None = None


@dataclass(frozen=True)
class OutputContext:
    """What every writer of a run is given besides its own `config` section (`PipelineFactory.output_context`
    builds it from the pipeline config, once per run)."""

    pipeline_id: str
    run_id: str
    #: a streaming run: rows come in poll windows
    streaming: bool
    #: per endpoint name, in config order: what a writer needs of it
    endpoints: Mapping[str, OutputEndpoint]
    #: the row columns inferred as TIMESTAMP (`schemas.baseline.timestamp_columns`), for a sink that infers the
    #: schema of the rows it writes
    timestamp_columns: frozenset[str] = frozenset()


class BaseOutput:
    """Writes one endpoint's rows; returns a PCollection that is complete only once the rows are written
    (the watermark commit waits on it).

    `settings` is the output entry's `config` section (`BigQueryOutputSettings`, `GcsOutputSettings`,
    `LocalOutputSettings`); `context` what the run tells every writer."""

    def __init__(self, settings: Any, context: OutputContext):
        self.settings = settings
        self.context = context

    @property
    def label(self) -> str:
        """A name for the write step in the job graph."""
        return type(self).__name__

    def write(self, rows: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        """Apply the sink to `rows` (dicts) of `endpoint`."""
        raise NotImplementedError

    def write_batches(self, batches: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        """Apply the sink to `batches` (lists of at most `batch_size` rows) of `endpoint`: by default a row at a time
        through `write`; a sink that can take whole batches overrides this."""
        return self.write(batches | "Rows" >> beam.FlatMap(lambda batch: batch), endpoint)

    def schema_file(self, endpoint: str) -> str | None:
        """Where the commit step writes the schema of this run's `endpoint` files
        (`records.row_schemas.write_schema_files`); None for a sink that holds its own schema (a table)."""
        return None

    def use_schemas(self, schemas: RunSchemas) -> None:
        """Before `write`: what gives the run's schema of each endpoint (WriteOutputs tells every sink); a sink
        that writes typed columns (Parquet, Avro) keeps it, the others need not."""

    def schema_table(self, endpoint: str) -> str | None:
        """After `write`: the table this sink gave the new columns of `endpoint`'s rows (named, with how), for
        the schema history (`records.row_schemas.record_run_schema`); None for a sink that does not."""
        return None

    def rejected_rows(self) -> list[pvalue.PCollection]:
        """After `write`: the rows this sink refused, as `outputs.rejected.rejected_row` dicts (one
        PCollection per endpoint written), for the dead letter. A sink that takes every row returns []."""
        return []

    def expand_batches(self, batches: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        """`write_batches` under a stable, readable label."""
        return batches | f"{self.label}[{endpoint}]" >> _Apply(self.write_batches, endpoint)


class _Apply(beam.PTransform):
    def __init__(self, write, endpoint: str):
        super().__init__()
        self._write = write
        self._endpoint = endpoint

    def expand(self, pcoll: pvalue.PCollection) -> pvalue.PCollection:
        return self._write(pcoll, self._endpoint)
