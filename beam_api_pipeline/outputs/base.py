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

    def rejected_rows(self) -> list[pvalue.PCollection]:
        """After `write`: the rows this sink refused, as `outputs.rejected.rejected_row` dicts (one
        PCollection per endpoint written), for the dead letter. A sink that takes every row returns []."""
        return []

    def expand_rows(self, rows: pvalue.PCollection, endpoint: str) -> pvalue.PCollection:
        """`write` under a stable, readable label."""
        return rows | f"{self.label}[{endpoint}]" >> _Apply(self, endpoint)


class _Apply(beam.PTransform):
    def __init__(self, output: BaseOutput, endpoint: str):
        super().__init__()
        self._output = output
        self._endpoint = endpoint

    def expand(self, rows: pvalue.PCollection) -> pvalue.PCollection:
        return self._output.write(rows, self._endpoint)
