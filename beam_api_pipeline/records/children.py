"""FetchChildren: each parent record kept in a window becomes a task of each child endpoint; the tasks, in
batches, are spread over the workers and walked with the child's own pagination (`fetch_children`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.api import parent_placeholders
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.element_checks import checked
from beam_api_pipeline.core.runner_profile import runner_profile
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.fetch.child_fetch import ChildBatch, FetchChildTasksFn
from beam_api_pipeline.fetch.read import RECORDS
from beam_api_pipeline.fetch.window_fetch import RESULTS
from beam_api_pipeline.plan.parents import ParentRef, check_placeholders, parent_fields
from beam_api_pipeline.plan.run_plan import TaskElement, WindowTask
from beam_api_pipeline.records.transform import INVALID

#: The output of the batches of child tasks made (`ChildBatch`), which the commit compares with their results.
SPAWNED = "spawned"
#: Child tasks per batch: a batch is walked with up to the worker's request budget of tasks at once, and is what
#: the shuffle spreads over the workers and a runner splits.
CHILD_BATCH = 64


class _SpawnChildTasksFn(beam.DoFn):
    """`(task, rows)` batches of parent records in; out, per record and child endpoint, `(child window, parent)`:
    the child endpoint's task in the parent's window (without a parent) and the ParentRef text of the record,
    naming its primary key and the fields the child uses. A record that lacks a field the child's request needs
    goes to INVALID with the reason, as a record of its own endpoint: its window still completes."""

    def __init__(self, config: PipelineConfig, children: Sequence[str]):
        api = config.api_config
        #: per parent endpoint: each child, the parent fields it uses, and those its request needs
        self._children: dict[str, list[tuple[str, list[str], list[str]]]] = {}
        for child in children:
            endpoint = api.endpoints[child]
            uses = (child, parent_fields(endpoint), parent_placeholders(endpoint))
            self._children.setdefault(endpoint.parent, []).append(uses)
        self._primary_keys = api.primary_keys()

    def process(self, element: tuple[TaskElement, list[Any]]) -> Iterator[object]:
        task_element, records = element
        task = WindowTask.from_element(task_element)
        key_field = self._primary_keys[task.endpoint]
        for child, fields, placeholders in self._children.get(task.endpoint, []):
            window = WindowTask(child, task.window).to_element()
            for record in records:
                parent = ParentRef.for_record(record, key_field, fields)
                try:
                    check_placeholders(placeholders, parent)
                except ValueError as error:
                    metrics.RECORDS_INVALID.inc()
                    yield pvalue.TaggedOutput(INVALID, (task_element, record, f"{child}: {error}"))
                    continue
                yield window, parent.text


def _cut_into_batches(grouped: tuple[TaskElement, Iterable[str]]) -> Iterator[ChildBatch]:
    """A child window's parents, each once, in batches of at most CHILD_BATCH."""
    window, parents = grouped
    unique = sorted(set(parents))
    for start in range(0, len(unique), CHILD_BATCH):
        yield window, tuple(unique[start : start + CHILD_BATCH])


class FetchChildren(beam.PTransform):
    """Parent batches in (the records a level of endpoints kept, `TransformRecords`'s KEPT), and `replayed`
    child tasks; out: RECORDS and RESULTS of the child endpoints `children` (as ReadFromApi's), SPAWNED, the
    batches of child tasks made (each task once: a parent seen twice in a window makes one task), and INVALID,
    parent records that lack a field a child's request needs (as `TransformRecords`'s INVALID)."""

    def __init__(
        self,
        config: PipelineConfig,
        extractor_class: type[BaseExtractor],
        children: Sequence[str],
        replayed: Sequence[WindowTask] = (),
    ):
        super().__init__()
        self._config = config
        self._extractor_class = extractor_class
        self._children = list(children)
        self._replayed = [
            (WindowTask(task.endpoint, task.window).to_element(), task.parent.text)
            for task in replayed
            if task.parent is not None
        ]

    def expand(self, parents: pvalue.PCollection) -> dict[str, pvalue.PCollection]:
        spawn = _SpawnChildTasksFn(self._config, self._children)
        made = parents | "SpawnChildTasks" >> beam.ParDo(spawn).with_outputs(INVALID, main="tasks")
        spawned = made.tasks
        if self._replayed:
            replayed = parents.pipeline | "ReplayedChildTasks" >> beam.Create(self._replayed)
            spawned = (spawned, replayed) | "WithReplayedTasks" >> beam.Flatten()
        batches = checked(
            spawned | "GroupByWindow" >> beam.GroupByKey() | "CutIntoBatches" >> beam.FlatMap(_cut_into_batches),
            SPAWNED,
        )
        profile = runner_profile(parents.pipeline.options)
        fetch = FetchChildTasksFn(self._config, self._extractor_class, profile)
        fetched = (
            batches
            | "SpreadBatches" >> beam.Reshuffle()
            | "FetchChildTasks" >> beam.ParDo(fetch).with_outputs(RESULTS, main=RECORDS)
        )
        return {
            RECORDS: checked(fetched[RECORDS], RECORDS),
            RESULTS: checked(fetched[RESULTS], RESULTS),
            INVALID: checked(made[INVALID], INVALID),
            SPAWNED: batches,
        }
