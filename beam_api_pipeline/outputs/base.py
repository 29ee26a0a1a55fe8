"""BaseOutput: one configured destination, applied once per endpoint."""

from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue


class BaseOutput:
    """Writes one endpoint's rows; returns a PCollection that is complete only once the rows are written
    (the watermark commit waits on it)."""

    def __init__(self, output_config, pipeline_config, run_id: str):
        self.output_config = output_config
        self.settings = output_config.config
        self.pipeline_config = pipeline_config
        self.run_id = run_id

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
        """Where the commit step writes the schema of this run's `endpoint` files (`transforms.schemas`); None
        for a sink that holds its own schema (a table)."""
        return None

    def rejected_rows(self) -> list[pvalue.PCollection]:
        """After `write`: the rows this sink refused, as `outputs.rejected.rejected_row` dicts (one
        PCollection per endpoint written), for the dead letter. A sink that takes every row returns []."""
        return []

    def expand_rows(self, rows: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        """`write` under a stable, readable label."""
        return rows | f"{self.label}[{endpoint}]" >> _Apply(self.write, endpoint)

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
