"""ReadFromApi: window tasks in; `(task, rows)` batches and a WindowResult per part of a walk out.

Windows are walked page by page by a splittable DoFn (cursor-like walks, `parallel_config` time_window or none;
windows run concurrently as far as the runner runs bundles concurrently). With `parallel_config` known_pages or
calculated_offset, `PlanRanges` first fetches each window's first page (several windows at once) to read the
total; the window's pages become a range that a second splittable DoFn splits into parts and fetches several
pages at a time. Where the runner honours `defer_remainder` (see `runner_profile`), a 429 whose Retry-After
exceeds `DEFER_AFTER_SECONDS` checkpoints the rest of the walk instead of holding the worker thread.

Every element is a tuple of plain values (`run_plan.TaskElement`, `parallel.RangeElement`, JSON records), and
each restriction has its own coder: nothing that crosses a stage is pickled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.client.conditional import without_conditional_requests
from beam_api_pipeline.client.limits import small_share_warning
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.element_checks import checked
from beam_api_pipeline.core.runner_profile import runner_profile
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.extractors.registry import load_extractor_class
from beam_api_pipeline.fetch.range_fetch import FetchRangeFn
from beam_api_pipeline.fetch.range_planning import WALKS, PlanRangesFn
from beam_api_pipeline.fetch.range_rules import range_paging
from beam_api_pipeline.fetch.walk_fetch import WalkPagesFn
from beam_api_pipeline.fetch.window_fetch import RESULTS
from beam_api_pipeline.plan.parents import EndpointTree
from beam_api_pipeline.plan.run_plan import WindowTask

RECORDS = "records"

logger = logging.getLogger(__name__)

__all__ = ["RECORDS", "RESULTS", "ReadFromApi"]


class ReadFromApi(beam.PTransform):
    """Reads `tasks` (one per endpoint and window, see `run_plan.window_tasks`) from the API of `config`, with
    `extractor_class` (default: the one `config.extractor_class` names). Usable in any Beam pipeline; it reads
    and writes no watermark (docs/extending.md). It reads the endpoints without a parent: a child endpoint's
    tasks are made from its parent's records (`children.FetchChildren`, in the run's graph).

    Out, a dict of two PCollections: RECORDS, `(task, rows)` batches of at most `batch_size` API records, where
    `task` is a `run_plan.TaskElement`; RESULTS, one `run_plan.ResultElement` per part of a window's walk (see
    `run_plan.window_outcomes` for whether a window was read completely). How the work fans out is decided
    here, from the pipeline's options (see `runner_profile`). With `conditional_requests` False (the default)
    no request is sent conditionally, whatever the config says: validators are saved by a run's commit
    (`run.commit`), which a graph of its own does not have, so it has none to send.
    """

    def __init__(
        self,
        config: PipelineConfig,
        tasks: Sequence[WindowTask],
        extractor_class: type[BaseExtractor] | None = None,
        conditional_requests: bool = False,
    ):
        super().__init__()
        self._config = config if conditional_requests else without_conditional_requests(config)
        self._tasks = list(tasks)
        self._extractor_class = extractor_class or load_extractor_class(config.extractor_class)
        api = config.api_config
        pagings = [range_paging(api, endpoint) for endpoint in EndpointTree.of(api).roots]
        self._uses_ranges = any(paging is not None for paging in pagings)
        self._uses_walks = any(paging is None or not paging.require_total for paging in pagings)

    def expand(self, source: pvalue.PBegin | pvalue.PCollection) -> dict[str, pvalue.PCollection]:
        """From a PBegin, the tasks given; from a PCollection, its task elements (a streaming run's polls)."""
        profile = runner_profile(source.pipeline.options)
        api = self._config.api_config
        warning = small_share_warning(api.rate_limit_mode, api.rate_limit, profile.processes, profile.processes_from)
        if warning:
            logger.warning(warning)
        dofn_args = (self._config, self._extractor_class, profile)
        if isinstance(source, pvalue.PCollection):
            tasks = source
        else:
            tasks = source | "CreateWindows" >> beam.Create([t.to_element() for t in self._tasks], reshuffle=True)
        walks = checked(tasks, "windows")
        fetched = []
        if self._uses_ranges:
            planned = walks | "PlanRanges" >> beam.ParDo(PlanRangesFn(*dofn_args)).with_outputs(WALKS, main="ranges")
            walks = checked(planned[WALKS], "walks")
            ranges = checked(planned.ranges | "SpreadRanges" >> beam.Reshuffle(), "ranges")
            fetched.append(
                ranges | "FetchRanges" >> beam.ParDo(FetchRangeFn(*dofn_args)).with_outputs(RESULTS, main=RECORDS)
            )
        # Only where a window may be walked: a Flatten of both fetchers' records would make FnApiRunner keep
        # every record between two stages instead of passing it on in the same one.
        if self._uses_walks:
            walk_pages = beam.ParDo(WalkPagesFn(*dofn_args)).with_outputs(RESULTS, main=RECORDS)
            fetched.append(walks | "WalkPages" >> walk_pages)
        if len(fetched) == 1:
            return {tag: checked(fetched[0][tag], tag) for tag in (RECORDS, RESULTS)}
        return {
            tag: checked([part[tag] for part in fetched] | f"All[{tag}]" >> beam.Flatten(), tag)
            for tag in (RECORDS, RESULTS)
        }
