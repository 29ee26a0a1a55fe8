"""Beam windows: a batch run has one (the global window), a streaming run one per poll (`transforms.polls`).
Output from `finish_bundle` goes to the window of the inputs it came from, and a total is one per window."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.transforms.window import BoundedWindow, GlobalWindow, GlobalWindows
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp
from apache_beam.utils.windowed_value import WindowedValue


def in_window(value: Any, window: BoundedWindow, timestamp: Timestamp) -> WindowedValue:
    """`value` in `window`, at `timestamp` (an input's: never late); at MIN_TIMESTAMP in the global window, where
    every batch stage emits from `finish_bundle`."""
    if isinstance(window, GlobalWindow):
        return WindowedValue(value, MIN_TIMESTAMP, [window])
    return WindowedValue(value, timestamp, [window])


class BundleWindows:
    """A bundle's Beam windows, each with the earliest timestamp of its inputs seen so far."""

    def __init__(self) -> None:
        self.earliest: dict[BoundedWindow, Timestamp] = {}

    def saw(self, window: BoundedWindow, timestamp: Timestamp) -> BoundedWindow:
        """Note an input of `window` at `timestamp`; returns `window`."""
        earliest = self.earliest.get(window)
        if earliest is None or timestamp < earliest:
            self.earliest[window] = timestamp
        return window

    def output(self, value: Any, window: BoundedWindow) -> WindowedValue:
        """`value` in `window`, at the earliest input timestamp seen there."""
        return in_window(value, window, self.earliest[window])


def flatten_all(collections: list[pvalue.PCollection], label: str) -> pvalue.PCollection:
    """The one PCollection of `collections`, or their Flatten (labelled `label`)."""
    return collections[0] if len(collections) == 1 else collections | label >> beam.Flatten()


def combine_all(pcoll: pvalue.PCollection, label: str, combine_fn: Any) -> pvalue.PCollection:
    """`combine_fn` over each window of `pcoll`: in the global window one value even when `pcoll` is empty (a
    batch run's commit waits for it); in a poll's window, one when the poll gave anything (read it with a
    default: `AsSingleton(..., default_value=...)`)."""
    combine = beam.CombineGlobally(combine_fn)
    if not isinstance(pcoll.windowing.windowfn, GlobalWindows):
        combine = combine.without_defaults()
    return pcoll | label >> combine


def count_all(pcoll: pvalue.PCollection, label: str) -> pvalue.PCollection:
    """The number of elements of each window of `pcoll` (see `combine_all`)."""
    return combine_all(pcoll, label, beam.combiners.CountCombineFn())
