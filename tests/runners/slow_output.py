"""A local output that takes its time, after everything else the commit waits on: its rows are shuffled first,
so that the slow write runs once the stages before it (which also feed the commit's other side inputs) are done,
then each file's content waits before it is written (tests only)."""

from __future__ import annotations

import time

import apache_beam as beam

from beam_api_pipeline.outputs.files import LocalOutput

SECONDS_PER_BATCH = 0.5


def _slowly(batch: list) -> list:
    time.sleep(SECONDS_PER_BATCH)
    return batch


class SlowLocalOutput(LocalOutput):
    """`type: local`, SECONDS_PER_BATCH slower per batch of rows, in a stage of its own after a shuffle."""

    def write_batches(self, batches, endpoint: str):
        slow = batches | "AfterTheRest" >> beam.Reshuffle() | "Slowly" >> beam.Map(_slowly)
        return super().write_batches(slow, endpoint)
