"""A local output that breaks Beam's rule: it changes the rows it receives (tests only)."""

from __future__ import annotations

import apache_beam as beam

from beam_api_pipeline.outputs.files import LocalOutput


def _stamp_in_place(batch: list) -> list:
    for row in batch:
        row["stamped"] = True
    return batch


class MutatingLocalOutput(LocalOutput):
    """`type: local`, which adds a field to every row it was given."""

    def write_batches(self, batches, endpoint: str):
        return super().write_batches(batches | "StampInPlace" >> beam.Map(_stamp_in_place), endpoint)
