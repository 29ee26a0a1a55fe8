"""tally_inputs alone: every input of the commit but the sinks' results, gathered into one CommitInputs."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from beam_api_pipeline.run.commit_inputs import CommitInputs, CommitTallyFn, tally_inputs
from tests.transform_support import pipeline


def test_lists_keep_every_element_counts_add_up_and_the_least_time_is_kept():
    with pipeline() as p:
        inputs = {
            "results": p | "Results" >> beam.Create(["r1", "r2"]),
            "rows_written": p | "Rows" >> beam.Create([30, 20, 0]),
            "invalid_records": p | "Invalid" >> beam.Create([1, 1]),
            "endpoint_rows": p | "EndpointRows" >> beam.Create([("items", 30), ("items", 20)]),
            "oldest_row_ms": p | "RowTimes" >> beam.Create([5_000, 2_000, 9_000]),
        }
        tally = tally_inputs(inputs) | beam.Map(
            lambda t: (sorted(t.results), t.rows_written, t.invalid_records, sorted(t.endpoint_rows), t.oldest_row_ms)
        )
        assert_that(tally, equal_to([(["r1", "r2"], 50, 2, [("items", 20), ("items", 30)], 2_000)]))


def test_a_run_with_nothing_to_tally_still_gives_one_empty_tally():
    with pipeline() as p:
        tally = tally_inputs({"results": p | "NoResults" >> beam.Create([])})
        assert_that(tally, equal_to([CommitInputs()]))


def test_merged_tallies_hold_what_each_held():
    fn = CommitTallyFn()
    first = fn.add_input(fn.add_input(fn.create_accumulator(), ("rows_written", 3)), ("oldest_row_ms", 7))
    second = fn.add_input(fn.add_input(fn.create_accumulator(), ("results", "r2")), ("oldest_row_ms", 4))
    third = fn.add_input(fn.create_accumulator(), ("rows_written", 2))
    merged = fn.extract_output(fn.merge_accumulators([first, second, third]))
    assert (merged.rows_written, merged.results, merged.oldest_row_ms) == (5, ["r2"], 4)
