"""A minimal pipeline that shows Beam's timer flush cutting elements in two (docs/beam-time-flush-bug.md).

    python tests/runners/flush_repro.py [--keys N] [--plain_values] [--safe_runner] [Beam options]

prints `exact` or what went wrong (`--safe_runner`: this project's `runners.SafeFnApiRunner`). The values
carry a `Slow` object, which Beam encodes with pickle (Python code, during which other threads run) and which
takes a little time to pickle, as a large record would: a flush from the data channel's timer thread then
lands inside an element. Plain values (str, int, tuple) are encoded by compiled code and are never cut.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

VALUES_PER_KEY = 20


class Slow:
    """A value that takes ~0.5 ms to pickle."""

    def __init__(self, number: int):
        self.number = number

    def __reduce__(self):
        time.sleep(0.0005)
        return Slow, (self.number,)


def build(pipeline: beam.Pipeline, keys: int, slow_values: bool) -> beam.PCollection:
    """Create → ParDo → GroupByKey → Map: the numbers 0 .. keys * VALUES_PER_KEY - 1, each once."""

    def pairs(key: int):
        for i in range(VALUES_PER_KEY):
            number = key * VALUES_PER_KEY + i
            yield key, Slow(number) if slow_values else (number,)

    return (
        pipeline
        | beam.Create(range(keys), reshuffle=True)
        | "Pairs" >> beam.FlatMap(pairs)
        | beam.GroupByKey()
        | "Numbers" >> beam.FlatMap(lambda kv: sorted(v.number if isinstance(v, Slow) else v[0] for v in kv[1]))
    )


def _last_line(error: Exception) -> str:
    """The last line of what `error` says; for a gRPC error (a job's state stream that broke), of its details."""
    details = error.details() if callable(getattr(error, "details", None)) else None
    text = str(details if details is not None else error)
    return (text.strip().splitlines() or [""])[-1]


def outcome(argv: list[str], runner=None, keys: int = 400, slow_values: bool = True) -> str:
    """`exact`, or a one-line account of what went wrong, for a run with Beam options `argv`."""
    expected = list(range(keys * VALUES_PER_KEY))
    with tempfile.TemporaryDirectory() as folder:
        try:
            with beam.Pipeline(runner=runner, options=PipelineOptions(argv)) as pipeline:
                _ = build(pipeline, keys, slow_values) | beam.io.WriteToText(f"{folder}/numbers")
        except Exception as error:
            return f"failed: {type(error).__name__}: {_last_line(error)[:200]}"
        found = [int(line) for path in Path(folder).glob("numbers*") for line in path.read_text().split()]
    if sorted(found) == expected:
        return "exact"
    return f"wrong: {len(found)} numbers, {len(set(found) & set(expected))} of the {len(expected)} expected"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=400)
    parser.add_argument("--plain_values", action="store_true")
    parser.add_argument("--safe_runner", action="store_true")
    args, beam_args = parser.parse_known_args()
    runner = None
    if args.safe_runner:
        from beam_api_pipeline.core.runners import SafeFnApiRunner

        runner = SafeFnApiRunner()
    print(outcome(beam_args, runner, args.keys, slow_values=not args.plain_values))
