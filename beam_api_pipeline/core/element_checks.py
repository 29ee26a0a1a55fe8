"""A test mode that proves the pipeline's elements are plain values that no DoFn changes once emitted.

- Plain values: every element between two steps is made of str, int (64-bit), float, bool, None, bytes,
  lists, tuples and dicts of them, which Beam's compiled coders encode without running Python code (nothing is
  pickled; see docs/beam-time-flush-bug.md for why that matters).
- Never changed: runners pass an element to the next step fused with it by reference, so a DoFn that changes an
  element after yielding it (or changes the element it was given) changes what another step sees, on some
  runners and not others. Each checked element's fingerprint is compared again at the end of the bundle: by
  then the step before has finished the bundle and the steps fused after it have processed the element, so a
  change made by either shows.

With `--check_elements`, `checked(pcoll, edge)` puts such a check on an edge; a failed check fails the run,
naming the edge.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.options.pipeline_options import PipelineOptions

_INT64 = range(-(2**63), 2**63)
_SCALARS = (str, float, bool, bytes, type(None))


class ElementCheckOptions(PipelineOptions):
    """`--check_elements`: the test mode of this module."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--check_elements",
            action="store_true",
            default=False,
            help="test mode: fail the run when an element is not plain values, or changes after it was emitted",
        )


class ElementCheckError(AssertionError):
    """An element is not made of plain values, or changed after a step emitted it."""


def not_plain(value: Any) -> str | None:
    """What in `value` is not a plain value (see the module docstring), or None."""
    if type(value) is int:
        return None if value in _INT64 else f"the integer {value} does not fit in 64 bits"
    if type(value) in _SCALARS:
        return None
    if type(value) in (list, tuple):
        return next((found for item in value if (found := not_plain(item))), None)
    if type(value) is dict:
        return next((found for item in value.items() if (found := not_plain(item))), None)
    return f"a {type(value).__module__}.{type(value).__qualname__}"


def _fingerprint(element: Any) -> bytes:
    return pickle.dumps(element, protocol=pickle.HIGHEST_PROTOCOL)


class _CheckElementsFn(beam.DoFn):
    def __init__(self, edge: str):
        self._edge = edge

    def start_bundle(self) -> None:
        self._passed: list[tuple[Any, bytes]] = []

    def process(self, element: Any) -> Iterator[Any]:
        problem = not_plain(element)
        if problem:
            raise ElementCheckError(f"{self._edge}: an element holds {problem}: {element!r:.300}")
        self._passed.append((element, _fingerprint(element)))
        yield element

    def finish_bundle(self) -> None:
        for element, fingerprint in self._passed:
            if _fingerprint(element) != fingerprint:
                raise ElementCheckError(f"{self._edge}: an element changed after it was emitted: {element!r:.300}")
        self._passed = []


def checked(pcoll: pvalue.PCollection, edge: str) -> pvalue.PCollection:
    """`pcoll` itself; with `--check_elements`, `pcoll` through a check of each element (module docstring)."""
    if not pcoll.pipeline.options.view_as(ElementCheckOptions).check_elements:
        return pcoll
    return pcoll | f"Check[{edge}]" >> beam.ParDo(_CheckElementsFn(edge))
