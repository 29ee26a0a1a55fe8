"""FnApiRunner's parallel bundles, no more of them than a stage has elements.

With `direct_num_workers=N`, Beam's FnApiRunner (`ParallelBundleManager`) cuts every stage's input into N
parts and runs each part as a bundle, even a part with nothing in it. Each bundle costs its worker the set-up of
the stage's DoFns, so a stage of one element (a commit, a combine's result, a short list of windows) costs N
set-ups for one element's work. `ElementBoundBundleManager` cuts a stage's input into as many parts as it has
elements (keys, for a grouped input), up to N: the same elements reach the same DoFns, in fewer empty bundles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apache_beam.coders.coder_impl import create_InputStream
from apache_beam.runners.portability.fn_api_runner import execution
from apache_beam.runners.portability.fn_api_runner.fn_runner import ParallelBundleManager


def parts_with_elements(buffer: Any, workers: int) -> int:
    """Into how many parts, up to `workers`, `buffer` can be cut with an element (or key) in each: `workers`
    for a buffer of a kind this module does not know. A buffer already cut keeps its parts."""
    cut = getattr(buffer, "_grouped_output", None)
    if cut:
        return len(cut)
    if isinstance(buffer, execution.GroupingBuffer):
        return min(len(buffer._table), workers)
    if not isinstance(buffer, execution.ListBuffer):
        return workers
    if len(buffer._inputs) >= workers:  # Beam deals whole chunks: each part gets one
        return workers
    elements = 0
    for chunk in buffer._inputs:
        stream = create_InputStream(chunk)
        while stream.size() > 0 and elements < workers:
            buffer._coder_impl.decode_from_stream(stream, True)
            elements += 1
    return elements


class ElementBoundBundleManager(ParallelBundleManager):
    """A ParallelBundleManager that runs a stage's input as at most one bundle per element (or key)."""

    def process_bundle(
        self,
        inputs: Mapping[str, Any],
        expected_outputs: Any,
        fired_timers: Any,
        expected_output_timers: Any,
        dry_run: bool = False,
    ) -> Any:
        workers = self.bundle_context_manager.num_workers
        parts = (parts_with_elements(buffer, workers) for buffer in inputs.values())
        self._num_workers = max([1, *parts])  # timers go to the first part: at least one
        return super().process_bundle(inputs, expected_outputs, fired_timers, expected_output_timers, dry_run)
