"""What a commit reads besides the sinks' results, gathered by one combine: the window results and what the other
branches of the run counted. One combine instead of one per input: each global combine is two more stages of
every run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.core.beam_windows import combine_all
from beam_api_pipeline.fetch.child_fetch import ChildBatch
from beam_api_pipeline.plan.run_plan import ResultElement, TaskElement
from beam_api_pipeline.records.placement import PlacementElement
from beam_api_pipeline.schemas.infer import Fields

#: Inputs kept as lists of their elements.
LISTED = ("results", "spawned", "schemas", "placements", "endpoint_rows", "planned")
#: Inputs whose elements (counts) are added up.
SUMMED = ("rows_written", "invalid_records")
#: The input whose least element is kept (None when it has none).
LEAST = "oldest_row_ms"


@dataclass
class CommitInputs:
    """One Beam window's inputs of the commit but the sinks' results (see `CommitWatermark`)."""

    results: list[ResultElement] = field(default_factory=list)
    spawned: list[ChildBatch] = field(default_factory=list)
    schemas: list[tuple[str, Fields]] = field(default_factory=list)
    placements: list[tuple[TaskElement, PlacementElement]] = field(default_factory=list)
    endpoint_rows: list[tuple[str, int]] = field(default_factory=list)
    planned: list[TaskElement] = field(default_factory=list)
    rows_written: int = 0
    invalid_records: int = 0
    oldest_row_ms: int | None = None


class CommitTallyFn(beam.CombineFn):
    """`(input name, element)` pairs in, their CommitInputs out."""

    def create_accumulator(self) -> CommitInputs:
        return CommitInputs()

    def add_input(self, tally: CommitInputs, tagged: tuple[str, Any]) -> CommitInputs:
        name, element = tagged
        if name in SUMMED:
            setattr(tally, name, getattr(tally, name) + element)
        elif name == LEAST:
            tally.oldest_row_ms = element if tally.oldest_row_ms is None else min(tally.oldest_row_ms, element)
        else:
            getattr(tally, name).append(element)
        return tally

    def merge_accumulators(self, tallies) -> CommitInputs:
        tallies = iter(tallies)
        merged = next(tallies)
        for tally in tallies:
            for name in LISTED:
                getattr(merged, name).extend(getattr(tally, name))
            for name in SUMMED:
                setattr(merged, name, getattr(merged, name) + getattr(tally, name))
            if tally.oldest_row_ms is not None:
                self.add_input(merged, (LEAST, tally.oldest_row_ms))
        return merged

    def extract_output(self, tally: CommitInputs) -> CommitInputs:
        return tally


def tally_inputs(inputs: dict[str, pvalue.PCollection], label: str = "Tally") -> pvalue.PCollection:
    """`inputs` (PCollections by input name: LISTED, SUMMED or LEAST) as one CommitInputs per Beam window; in the
    global window one even when they are empty (`beam_windows.combine_all`)."""
    tagged = [
        pcoll | f"Tag[{name}]" >> beam.Map(lambda element, name=name: (name, element)) for name, pcoll in inputs.items()
    ]
    return combine_all(tagged | f"{label}Inputs" >> beam.Flatten(), label, CommitTallyFn())
