"""A local output that takes its time: each file's content waits before it is written (tests only)."""

from __future__ import annotations

import time

import apache_beam as beam

from beam_api_pipeline.outputs.files import LocalOutput

SECONDS_PER_BATCH = 0.5


def _slowly(batch: list) -> list:
    time.sleep(SECONDS_PER_BATCH)
    return batch


class SlowLocalOutput(LocalOutput):
    """`type: local`, SECONDS_PER_BATCH slower per batch of rows."""

    def write_batches(self, batches, endpoint: str):
        return super().write_batches(batches | "Slowly" >> beam.Map(_slowly), endpoint)
