"""WriteOutputs: every enabled output, once per endpoint; returns what the watermark commit waits on."""

from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.core.beam_windows import count_all
from beam_api_pipeline.outputs.base import BaseOutput
from beam_api_pipeline.outputs.columnar import RunSchemas


class WriteOutputs(beam.PTransform):
    """Each endpoint's rows in (a dict of PCollections); out, one count per sink of what it wrote (files,
    loads), each complete only once the sink has written everything.

    A sink's own result is counted before the results are flattened: WriteToText gives its file names the
    timestamp MAX_TIMESTAMP, past the end of the global window, and Prism loses or holds such elements in a
    Flatten (docs/beam-time-flush-bug.md).
    """

    def __init__(self, outputs: list[BaseOutput], schemas: RunSchemas | None = None):
        """`schemas`: what gives the run's schema of each endpoint, told to each sink (`BaseOutput.use_schemas`)."""
        super().__init__()
        self._outputs = outputs
        self._schemas = schemas

    def expand(self, rows: dict[str, pvalue.PCollection]) -> pvalue.PCollection:
        counts = []
        if self._schemas is not None:
            for output in self._outputs:
                output.use_schemas(self._schemas)
        for endpoint, batches in rows.items():
            for output in self._outputs:
                written = output.expand_batches(batches, endpoint)
                counts.append(count_all(written, f"Count[{output.label}][{endpoint}]"))
        if not counts:
            return next(iter(rows.values())).pipeline | "NothingWritten" >> beam.Create([])
        return counts | "AllWritten" >> beam.Flatten()
