"""JudgePlacement: what became of each window's records, summed, and the failed windows of a time filter that
the API did not apply (`placement.filter_failure`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import reduce
from operator import add
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.element_checks import checked
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.plan.run_plan import TaskElement, WindowTask
from beam_api_pipeline.records.placement import Placement, filter_failure
from beam_api_pipeline.records.quality import failed_result, fetch_failures

PLACEMENTS, FAILED = "placements", "failed"
_PLACED, _FETCH_FAILED = "placed", "fetch_failed"


class _JudgeFn(beam.DoFn):
    """`(task, {placed, fetch_failed})` in; out `(task, placement)` of each window, and to FAILED the failed
    WindowResult element of a window `filter_failure` fails (none when its fetch failed: it failed once)."""

    def __init__(self, config: PipelineConfig, extractor_class: type[BaseExtractor]):
        self._config = config
        self._extractor_class = extractor_class
        watermark = config.api_config.watermark
        self._judged = watermark.enabled and watermark.filter == "server"
        self._max_share = watermark.max_outside_share

    def setup(self) -> None:
        self._extractors: dict[str, Any] = {}

    def process(self, grouped: tuple[TaskElement, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        task_element, found = grouped
        placements = [Placement.from_element(element) for element in found[_PLACED]]
        if not placements:
            return
        placement = reduce(add, placements)
        yield task_element, placement.to_element()
        task = WindowTask.from_element(task_element)
        if not self._judged or task.parent is not None or any(True for _ in found[_FETCH_FAILED]):
            return
        failure = filter_failure(placement, self._max_share, self._params(task))
        if failure is not None:
            metrics.WINDOWS_NOT_FILTERED.inc()
            error_type, error = failure
            yield pvalue.TaggedOutput(FAILED, failed_result(task_element, error, error_type))

    def _params(self, task: WindowTask) -> dict[str, Any]:
        """The window bounds the endpoint's requests send for `task`'s window."""
        if task.endpoint not in self._extractors:
            self._extractors[task.endpoint] = self._extractor_class(self._config, task.endpoint)
        return self._extractors[task.endpoint].filter_params(task.window)


class JudgePlacement(beam.PTransform):
    """In: `(task, placement)` of each batch of records (PLACED of TransformRecords) and the WindowResult elements
    of the level's fetch. Out: PLACEMENTS, `(task, placement)` summed per window (or child task); FAILED, a
    failed WindowResult element for each window of `watermark.filter: server` whose records `filter_failure`
    finds the API did not filter, naming the parameters sent (`extractor_class`'s `filter_params`) and an astray
    record."""

    def __init__(self, config: PipelineConfig, extractor_class: type[BaseExtractor]):
        super().__init__()
        self._config = config
        self._extractor_class = extractor_class

    def expand(self, inputs: tuple[pvalue.PCollection, pvalue.PCollection]) -> dict[str, pvalue.PCollection]:
        placed, fetch_results = inputs
        judged = (
            {_PLACED: placed, _FETCH_FAILED: fetch_failures(fetch_results)}
            | "GroupByWindow" >> beam.CoGroupByKey()
            | "Judge" >> beam.ParDo(_JudgeFn(self._config, self._extractor_class)).with_outputs(FAILED, main=PLACEMENTS)
        )
        return {PLACEMENTS: checked(judged[PLACEMENTS], PLACEMENTS), FAILED: checked(judged[FAILED], "filter_failures")}
