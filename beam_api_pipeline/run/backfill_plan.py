"""`plan`: what a run (a backfill) would read and cost, estimated from the API itself before running it.

Per endpoint without a parent: the windows the run would read (and those the stored watermark already covers);
the first page of a sample of them, spread over the range, paced at the config's `rate_limit`, gives each
window's record count (the API's total, else the page's fill), the latency, the rate-limit headers and the CPU
its fetch costs here. A child endpoint's first pages for up to `PARENT_SAMPLE` parent records, spread over the
parent's sampled pages, scale with its parent's records. The sampled records then go once through the run's
record stages on a local runner (`run.record_cost`): the CPU a record costs a run, Beam's own work included.
`plan.estimate` turns that into records, pages and requests with a 95 % range, and the time each bound allows;
`plan.dataflow_cost` into a Dataflow job; `plan.backfill` holds the answer. Nothing is written, no watermark
moves.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

from beam_api_pipeline.client.build import build_client
from beam_api_pipeline.client.limits import RequestLimits
from beam_api_pipeline.client.rate_headers import parse_rate_limit_headers
from beam_api_pipeline.config import PipelineConfig, resolve_config
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.control.watermarks import WatermarkHandler
from beam_api_pipeline.core.errors import ConfigError, PipelineError
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.runner_profile import DATAFLOW_DEFAULT_MAX_WORKERS
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.pagination import Page
from beam_api_pipeline.pagination.base import effective_page_size
from beam_api_pipeline.plan.backfill import (
    BackfillPlan,
    EndpointPlan,
    cpu_per_record,
    job_dataflow,
    job_time,
    mode_warnings,
)
from beam_api_pipeline.plan.dataflow_cost import load_prices
from beam_api_pipeline.plan.estimate import (
    WindowSample,
    pages_for,
    per_parent,
    sample_indices,
    scaled,
    windows_done,
)
from beam_api_pipeline.plan.parents import EndpointTree, ParentRef, parent_fields
from beam_api_pipeline.plan.run_plan import WindowTask, refuse_gap
from beam_api_pipeline.records.placement import Placement, astray_example, filter_failure, is_astray
from beam_api_pipeline.run.factory import PipelineFactory
from beam_api_pipeline.run.record_cost import Batch, record_cpu

DEFAULT_SAMPLE = 20
#: The parent records whose children a child endpoint's estimate is sampled from (one request each).
PARENT_SAMPLE = 3


class Pace:
    """Spaces requests `1 / rate` seconds apart (no spacing without a rate), on an injectable clock."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._interval = 1 / rate if rate else 0.0
        self._clock, self._sleep = clock, sleep
        self._next: float | None = None

    def wait(self) -> None:
        """Return when the next request may start."""
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


@dataclass
class _Sampled:
    """What sampling one endpoint found: each page's WindowSample, its records (as the run's record stages take
    them) and, of each page with records, its window and first record (a parent record for its children)."""

    samples: list[WindowSample] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    firsts: list[tuple[Window, Any]] = field(default_factory=list)

    def add(self, sample: WindowSample, task: WindowTask, rows: list[Any]) -> None:
        self.samples.append(sample)
        self.batches.append((task, rows))
        if rows:
            self.firsts.append((task.window, rows[0]))


class BackfillPlanner:
    """Samples `config`'s endpoints (resolved: secrets read) with `client`; `stored` gives an endpoint's stored
    watermark; `pace` spaces the requests; `clock` times their latency and `cpu_clock` the CPU this thread spends
    fetching them (not the API's, when it runs in this process); `stages_cpu` measures what a sampled record
    costs the run's record stages (`record_cost.record_cpu`)."""

    def __init__(
        self,
        config: PipelineConfig,
        client,
        extractor_class: type[BaseExtractor],
        stored: Callable[[str], datetime | None],
        pace: Pace,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
        stages_cpu: Callable[[PipelineConfig, list[Batch]], float] = record_cpu,
    ):
        self._config = config
        self._client = client
        self._extractor_class = extractor_class
        self._stored = stored
        self._pace = pace
        self._clock, self._cpu_clock = clock, cpu_clock
        self._stages_cpu = stages_cpu
        self.requests = 0
        self.warnings: list[str] = []
        self.hint = None
        self._unfiltered: set[str] = set()

    def plan(
        self,
        start_time: datetime | None,
        end_time: datetime | None,
        sample: int = DEFAULT_SAMPLE,
        now: datetime | None = None,
    ) -> list[EndpointPlan]:
        """The EndpointPlan of every endpoint, parents first; `sample` windows are sampled in all, shared among the
        endpoints without a parent; a child endpoint costs a request per sampled parent record (`PARENT_SAMPLE`)."""
        api = self._config.api_config
        now = now or datetime.now(UTC)
        tree = EndpointTree.of(api)
        handler = WatermarkHandler(api.watermark, None, self._config.pipeline_id, api.window_grid()[0])
        stored = {endpoint: self._stored(endpoint) for endpoint in api.endpoints}
        try:
            refuse_gap(stored, start_time, handler.grid)
        except ConfigError as gap:
            self.warnings.extend(f"a run refuses this range: {problem}" for problem in gap.problems)
        roots = tree.roots
        shares = [sample // len(roots) + (i < sample % len(roots)) for i in range(len(roots))]
        found: dict[str, _Sampled] = {}
        windows: dict[str, list[Window]] = {}
        for root, share in zip(roots, shares, strict=True):
            family_stored = [stored[e] for e in tree.family(root)]
            oldest = None if None in family_stored else min(family_stored)
            windows[root] = handler.plan(oldest, start_time, end_time, now)
            chosen = [windows[root][i] for i in sample_indices(len(windows[root]), max(1, share))]
            found[root] = self._sample(root, chosen)
        for level in tree.levels()[1:]:
            for child in level:
                found[child] = self._sample_child(child, tree.parents[child], found[tree.parents[child]])
        stages = self._stages_cpu(self._config, [batch for sampled in found.values() for batch in sampled.batches])
        plans: dict[str, EndpointPlan] = {}
        for root in roots:
            done = windows_done(windows[root], stored[root])
            plans[root] = self._root_plan(root, windows[root], done, found[root], stages)
        for level in tree.levels()[1:]:
            for child in level:
                parent = plans[tree.parents[child]]
                plans[child] = self._child_plan(child, parent, found[child], stored[child], stages)
        return [plans[endpoint] for level in tree.levels() for endpoint in level]

    def _fetch(self, extractor: BaseExtractor, window: Window) -> tuple[Page, float, list[Any], float]:
        """The first page of `window`, its latency, its records and the CPU seconds this thread spent on them (the
        request, the answer's decoding, the records' extraction)."""
        self._pace.wait()
        position = extractor.pagination.first_position()

        def retried(_error: BaseException, _wait: float) -> None:
            self.requests += 1

        self.requests += 1
        started, cpu = self._clock(), self._cpu_clock()
        page = extractor.fetch_page(self._client, window, position, on_retry=retried)
        latency = self._clock() - started
        rows = list(extractor.records(page))
        cpu = self._cpu_clock() - cpu
        hint = parse_rate_limit_headers(page.headers)
        self.hint = hint or self.hint
        return page, latency, rows, cpu

    def _window_sample(
        self, extractor: BaseExtractor, window: Window, covered_by_time: bool
    ) -> tuple[WindowSample, list]:
        page, latency, rows, cpu = self._fetch(extractor, window)
        strategy = extractor.pagination
        total = strategy.total(page)
        asked = self._config.api_config.pagination_for(extractor.endpoint_name).page_size
        size = effective_page_size(asked, len(page.records), total)
        try:
            last = extractor.next_position(window, strategy.first_position(), page) is None
        except PipelineError as error:
            self.warnings.append(f"{extractor.endpoint_name} {window.label()}: {self._client.redact(str(error))}")
            last = True
        covered = self._covered(window, page.records) if covered_by_time and not last and total is None else None
        sample = WindowSample(window, len(page.records), total, last, size, latency, covered, cpu)
        return sample, rows

    def _covered(self, window: Window, records: list[Any]) -> float | None:
        """The share of `window` the first page's records span (n records a span apart cover n / (n - 1) of it);
        None when their times cannot tell."""
        watermark = self._config.api_config.watermark
        try:
            moments = [
                parse_timestamp(get_path(r, watermark.placement_field()), watermark.time_format) for r in records
            ]
        except (ValueError, TypeError, OverflowError):
            return None
        if len(moments) < 2 or max(moments) == min(moments):
            return None
        span = (max(moments) - min(moments)) / (window.end - window.start)
        return span * len(moments) / (len(moments) - 1)

    def _sample(self, endpoint: str, windows: list[Window]) -> _Sampled:
        extractor = self._extractor_class(self._config, endpoint)
        found = _Sampled()
        for window in windows:
            try:
                sample, rows = self._window_sample(extractor, window, covered_by_time=True)
            except (PipelineError, ValueError) as error:
                self.warnings.append(f"{endpoint} {window.label()}: not sampled: {self._client.redact(str(error))}")
                continue
            found.add(sample, WindowTask(endpoint, window), rows)
            self._check_filter(extractor, window, rows)
        return found

    def _check_filter(self, extractor: BaseExtractor, window: Window, rows: list[Any]) -> None:
        """A warning (once per endpoint) when the sampled page shows the API did not apply the window's time
        filter (`placement.filter_failure`, as a run and `check` judge it)."""
        watermark = self._config.api_config.watermark
        if not watermark.enabled or watermark.filter != "server" or extractor.endpoint_name in self._unfiltered:
            return
        sends_end = self._config.api_config.sends_window_end(extractor.endpoint_name)
        astray = []
        for row in rows:
            value = get_path(row, watermark.placement_field())
            try:
                moment = parse_timestamp(value, watermark.time_format)
            except (ValueError, TypeError, OverflowError):
                continue
            if is_astray(window, moment, watermark, sends_end):
                astray.append(astray_example(watermark.placement_field(), value, moment))
        placement = Placement(len(rows), astray=len(astray), outside_example=min(astray, default=None))
        failure = filter_failure(placement, watermark.max_outside_share, extractor.filter_params(window))
        if failure is not None:
            self._unfiltered.add(extractor.endpoint_name)
            self.warnings.append(
                f"{extractor.endpoint_name} {window.label()}: {failure[1]} (a run fails every such window)"
            )

    def _root_plan(
        self, endpoint: str, windows: list[Window], done: int, found: _Sampled, stages: float
    ) -> EndpointPlan:
        samples = found.samples
        end_signal = self._end_signal(endpoint, samples)
        records = [sample.records()[0] for sample in samples]
        pages = [pages_for(count, sample.page_size, end_signal) for count, sample in zip(records, samples, strict=True)]
        self._check_page_cap(endpoint, samples, records)
        return EndpointPlan(
            endpoint,
            None,
            windows,
            done,
            len(samples),
            scaled(records, len(windows)),
            scaled(pages, len(windows)),
            fmean([s.latency for s in samples]) if samples else 0.0,
            cpu_per_record(samples, stages),
            max((s.page_size for s in samples), default=0),
            dict(Counter(sample.records()[1] for sample in samples)),
        )

    def _end_signal(self, endpoint: str, samples: list[WindowSample]) -> bool:
        """Whether the endpoint's walks end on an API signal (a total, `has_more_path`, a cursor or link that stops),
        or on a short page (page numbers and offsets without either: one more request after a full last page)."""
        pagination = self._config.api_config.pagination_for(endpoint)
        walks_by_position = pagination.strategy in ("page_number", "offset")
        return not walks_by_position or bool(pagination.has_more_path) or any(s.announced is not None for s in samples)

    def _check_page_cap(self, endpoint: str, samples: list[WindowSample], records: list[float]) -> None:
        max_pages = self._config.api_config.pagination_for(endpoint).max_pages
        over = [(s, count) for s, count in zip(samples, records, strict=True) if count > s.page_size * max_pages]
        if over:
            sample, count = over[0]
            self.warnings.append(
                f"{endpoint}: {len(over)} of {len(samples)} sampled windows hold more records than page size "
                f"{sample.page_size} x max_pages {max_pages} (e.g. {sample.window.label()}: {count:.0f}): a run stops "
                "them at max_pages and fails them; use a smaller window_size"
            )

    def _sample_child(self, child: str, parent: str, found: _Sampled) -> _Sampled:
        """The first page of `child` for each of up to `PARENT_SAMPLE` parent records: the first records of the
        parent's sampled pages, spread over them."""
        sampled = _Sampled()
        if not found.firsts:
            self.warnings.append(f"{child}: not sampled: its parent {parent} found no record")
            return sampled
        extractor = self._extractor_class(self._config, child)
        key = self._config.api_config.endpoints[parent].primary_key
        for index in sample_indices(len(found.firsts), PARENT_SAMPLE):
            window, record = found.firsts[index]
            try:
                ref = ParentRef.for_record(record, key, parent_fields(extractor.endpoint))
                sample, rows = self._window_sample(extractor.for_parent(ref), window, covered_by_time=False)
            except (PipelineError, ValueError) as error:
                self.warnings.append(f"{child}: not sampled: {self._client.redact(str(error))}")
                continue
            sampled.add(sample, WindowTask(child, window, ref), rows)
        return sampled

    def _child_plan(
        self, child: str, parent: EndpointPlan, found: _Sampled, stored: datetime | None, stages: float
    ) -> EndpointPlan:
        """A child's records and requests: the mean of its sampled parent records', times the parent's records,
        with a range from their spread and the parent's range (`estimate.per_parent`)."""
        samples = found.samples
        end_signal = self._end_signal(child, samples)
        held = [sample.records()[0] for sample in samples]
        pages = [pages_for(count, sample.page_size, end_signal) for count, sample in zip(held, samples, strict=True)]
        return EndpointPlan(
            child,
            parent.endpoint,
            parent.windows,
            windows_done(parent.windows, stored),
            len(samples),
            per_parent(held, parent.records),
            per_parent(pages, parent.records),
            fmean([s.latency for s in samples]) if samples else 0.0,
            cpu_per_record(samples, stages),
            max((s.page_size for s in samples), default=0),
            dict(Counter(sample.records()[1] for sample in samples)),
        )


def stored_watermarks(config: PipelineConfig) -> dict[str, datetime | None]:
    """Each endpoint's stored watermark, read without writing: a local store that does not exist yet is not
    created (it holds none)."""
    section = config.watermark_store
    if section.type == "local" and not Path(section.path).exists():
        return dict.fromkeys(config.api_config.endpoints)
    with opened_store(section) as store:
        return {endpoint: store.get_watermark(config.pipeline_id, endpoint) for endpoint in config.api_config.endpoints}


def plan_backfill(
    config: PipelineConfig,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    sample: int = DEFAULT_SAMPLE,
    prices: dict[str, Any] | None = None,
    region: str | None = None,
    machine: str | None = None,
    now: datetime | None = None,
    max_workers: int = DATAFLOW_DEFAULT_MAX_WORKERS,
) -> BackfillPlan:
    """The BackfillPlan of `config` over `[start_time, end_time)` (defaults as `run`'s): reads the stored
    watermarks and the API, writes nothing. With `prices`, the Dataflow lines at `region` on `machine`, at most
    `max_workers` of them."""
    stored = stored_watermarks(config)
    resolved = resolve_config(config)
    client = build_client(resolved, RequestLimits(None, 1))
    try:
        extractor_class = PipelineFactory.extractor_class(config)
        pace = Pace(config.api_config.rate_limit)
        planner = BackfillPlanner(resolved, client, extractor_class, stored.get, pace, stages_cpu=record_cpu)
        plans = planner.plan(start_time, end_time, sample, now)
    finally:
        client.close()
    dataflow = job_dataflow(config, plans, prices, region, machine, max_workers) if prices is not None else None
    requests = sum(plan.pages.value for plan in plans)
    warnings = [*planner.warnings, *mode_warnings(config, dataflow, prices, planner.hint, requests)]
    hint = planner.hint
    headers = None if hint is None else {"limit": hint.limit, "remaining": hint.remaining, "reset_s": hint.reset_after}
    return BackfillPlan(
        config.pipeline_id, plans, job_time(config, plans), dataflow, warnings, planner.requests, headers
    )


def plan_command(config: PipelineConfig, args) -> str:
    """`plan`'s text for the command line's `args` (and its JSON written to `--report_json`)."""
    if args.sample < 1:
        raise ConfigError(f"--sample: must be at least 1, got {args.sample}")
    prices = load_prices(args.prices)
    if args.max_workers < 1:
        raise ConfigError(f"--max_workers: must be at least 1, got {args.max_workers}")
    plan = plan_backfill(
        config,
        args.start_time,
        args.end_time,
        args.sample,
        prices,
        args.region,
        args.machine_type,
        max_workers=args.max_workers,
    )
    if args.report_json:
        with open(args.report_json, "w", encoding="utf-8") as handle:
            json.dump(plan.to_dict(), handle, indent=2)
    return plan.format()
