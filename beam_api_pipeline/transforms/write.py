"""WriteOutputs: every enabled output, once per endpoint; returns what the watermark commit waits on."""

from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.outputs.base import BaseOutput


class WriteOutputs(beam.PTransform):
    """`(endpoint, row)` in; the Flatten of every sink's result out."""

    def __init__(self, outputs: list[BaseOutput], endpoints: list[str]):
        super().__init__()
        self._outputs = outputs
        self._endpoints = endpoints

    def expand(self, rows: pvalue.PCollection) -> pvalue.PCollection:
        index = {endpoint: i for i, endpoint in enumerate(self._endpoints)}
        by_endpoint = rows | "SplitByEndpoint" >> beam.Partition(lambda row, _n: index[row[0]], len(index))
        written = []
        for endpoint, part in zip(self._endpoints, by_endpoint, strict=True):
            endpoint_rows = part | f"RowsOf[{endpoint}]" >> beam.Values()
            written.extend(output.expand_rows(endpoint_rows, endpoint) for output in self._outputs)
        if not written:
            return rows.pipeline | "NothingWritten" >> beam.Create([])
        return written | "AllWritten" >> beam.Flatten()
