"""WriteOutputs: every enabled output, once per endpoint; returns what the watermark commit waits on."""

from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.outputs.base import BaseOutput


class WriteOutputs(beam.PTransform):
    """Each endpoint's rows in (a dict of PCollections); the Flatten of every sink's result out."""

    def __init__(self, outputs: list[BaseOutput]):
        super().__init__()
        self._outputs = outputs

    def expand(self, rows: dict[str, pvalue.PCollection]) -> pvalue.PCollection:
        written = []
        for endpoint, batches in rows.items():
            written.extend(output.expand_batches(batches, endpoint) for output in self._outputs)
        if not written:
            return next(iter(rows.values())).pipeline | "NothingWritten" >> beam.Create([])
        return written | "AllWritten" >> beam.Flatten()
