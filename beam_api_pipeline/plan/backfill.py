"""`plan`'s answer, per endpoint and for the job: the estimates (`EndpointPlan`, `BackfillPlan`) as text and JSON,
the time bounds and Dataflow job of the whole run, and the warnings of a rate limit the run cannot use. Pure:
`run.backfill_plan` samples the API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from beam_api_pipeline.client.build import DEFAULT_MAX_CONCURRENT_REQUESTS
from beam_api_pipeline.client.limits import small_share_warning
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.runner_profile import DATAFLOW_DEFAULT_MAX_WORKERS
from beam_api_pipeline.core.windowing import Window, format_utc
from beam_api_pipeline.plan.dataflow_cost import DataflowCost, api_rate, dataflow_cost
from beam_api_pipeline.plan.estimate import Estimate, TimeBounds, WindowSample, format_seconds, time_bounds


@dataclass(frozen=True)
class EndpointPlan:
    """One endpoint's windows (a child's are its parent's) and estimates: records, and pages, each one request
    (retries are not estimated); `known` counts how the sampled windows' records are known (`WindowSample.records`)."""

    endpoint: str
    parent: str | None
    windows: list[Window]
    done: int
    sampled: int
    records: Estimate
    pages: Estimate
    latency: float
    cpu_per_record: float
    page_size: int
    known: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        first, last = (self.windows[0], self.windows[-1]) if self.windows else (None, None)
        return {
            "parent": self.parent,
            "windows": len(self.windows),
            "first_window": first.label() if first else None,
            "last_window": last.label() if last else None,
            "windows_done": self.done,
            "sampled": self.sampled,
            "records": self.records.to_dict(),
            "pages": self.pages.to_dict(),
            "requests": self.pages.to_dict(),
            "page_size": self.page_size,
            "latency_ms": round(self.latency * 1000, 1),
            "cpu_us_per_record": round(self.cpu_per_record * 1e6, 1),
            "known_by": self.known,
        }

    def line(self) -> str:
        first = f"{format_utc(self.windows[0].start)} .. {format_utc(self.windows[-1].end)}" if self.windows else "-"
        known = ", ".join(f"{count} by {how}" for how, count in sorted(self.known.items()))
        records = f"{self.sampled} parent record{'s' if self.sampled != 1 else ''}"
        parent = f" (child of {self.parent}, scaled from {records})" if self.parent else ""
        return (
            f"  {self.endpoint}{parent}: {len(self.windows)} windows {first}, {self.done} already done; "
            f"{self.sampled} sampled ({known or 'none'}); records {self.records.text()}, "
            f"requests {self.pages.text()}; latency {self.latency * 1000:.0f} ms"
        )


@dataclass(frozen=True)
class BackfillPlan:
    """`plan`'s answer: per endpoint (`EndpointPlan`), the job's time bounds, Dataflow, what would go wrong, and the
    requests the plan itself sent (`sample_requests`, retries included)."""

    pipeline_id: str
    endpoints: list[EndpointPlan]
    time: TimeBounds
    dataflow: DataflowCost | None
    warnings: list[str]
    sample_requests: int
    rate_headers: dict[str, Any] | None = None

    def records(self) -> Estimate:
        return _summed(plan.records for plan in self.endpoints)

    def requests(self) -> Estimate:
        return _summed(plan.pages for plan in self.endpoints)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline_id": self.pipeline_id,
            "endpoints": {plan.endpoint: plan.to_dict() for plan in self.endpoints},
            "records": self.records().to_dict(),
            "requests": self.requests().to_dict(),
            "time": self.time.to_dict(),
            "dataflow": self.dataflow.to_dict() if self.dataflow else None,
            "warnings": self.warnings,
            "sample_requests": self.sample_requests,
            "rate_headers": self.rate_headers,
        }

    def format(self) -> str:
        time_bounds = self.time
        bounds = f"rate_limit {format_seconds(time_bounds.rate_limit)}" if time_bounds.rate_limit is not None else ""
        bounds += f"{', ' if bounds else ''}concurrency {format_seconds(time_bounds.concurrency)}"
        bounds += f", cpu {format_seconds(time_bounds.cpu)}"
        lines = [
            f"plan {self.pipeline_id}: {self.sample_requests} requests sent to sample, nothing written",
            *(plan.line() for plan in self.endpoints),
            f"  total: records {self.records().text()}, requests {self.requests().text()}",
            f"  time: {format_seconds(time_bounds.seconds)} locally, bound by {time_bounds.bound_by} ({bounds}; "
            f"+{time_bounds.start:.0f} s start)",
        ]
        if self.rate_headers:
            told = ", ".join(f"{name} {value:g}" for name, value in self.rate_headers.items() if value is not None)
            lines.append(f"  rate-limit headers of the last answer: {told}")
        if self.dataflow:
            lines.extend(self.dataflow.lines())
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        return "\n".join(lines)


def _summed(estimates) -> Estimate:
    estimates = list(estimates)
    return Estimate(*(sum(getattr(e, name) for e in estimates) for name in ("value", "low", "high")))


def cpu_per_record(samples: list[WindowSample], stages: float) -> float:
    """The CPU seconds a record costs a run: its share of its page's fetch (the sampled pages' own, here), and
    `stages`, what the run's record stages took a record (`run.record_cost`)."""
    rows = sum(sample.first_page_records for sample in samples)
    return sum(sample.cpu_seconds for sample in samples) / rows + stages if rows else stages


def job_time(config: PipelineConfig, plans: list[EndpointPlan], cores: int = 1) -> TimeBounds:
    """The run's time bounds over every endpoint: the job-wide `rate_limit` and `max_concurrent_requests`."""
    api = config.api_config
    requests = sum(plan.pages.value for plan in plans)
    records = sum(plan.records.value for plan in plans)
    latency = _weighted(plans, "latency")
    cpu = sum(plan.records.value * plan.cpu_per_record for plan in plans) / records if records else 0.0
    return time_bounds(requests, records, api.rate_limit, _max_concurrent(config), latency, cpu, cores)


def _weighted(plans: list[EndpointPlan], name: str) -> float:
    requests = sum(plan.pages.value for plan in plans)
    return sum(plan.pages.value * getattr(plan, name) for plan in plans) / requests if requests else 0.0


def _max_concurrent(config: PipelineConfig) -> int:
    return config.api_config.max_concurrent_requests or DEFAULT_MAX_CONCURRENT_REQUESTS


def job_dataflow(
    config: PipelineConfig,
    plans: list[EndpointPlan],
    prices: dict[str, Any],
    region: str,
    machine: str,
    max_workers: int = DATAFLOW_DEFAULT_MAX_WORKERS,
) -> DataflowCost:
    """The Dataflow batch job that reads what `plans` estimate, on at most `max_workers` workers."""
    requests = sum(plan.pages.value for plan in plans)
    records = sum(plan.records.value for plan in plans)
    cpu = sum(plan.records.value * plan.cpu_per_record for plan in plans)
    rps = api_rate(config.api_config.rate_limit, _max_concurrent(config), _weighted(plans, "latency"))
    per_request = cpu / requests if requests and records else 0.0
    return dataflow_cost(requests, rps, per_request, prices, region, machine, max_workers)


def mode_warnings(
    config: PipelineConfig, dataflow: DataflowCost | None, prices: dict[str, Any], hint, requests: float
) -> list[str]:
    """What keeps the run from using its `rate_limit`: a share too small on the Dataflow job's processes (one per
    vCPU), and an API budget (`RateLimit-*` headers) smaller than what the run would send at its `rate_limit` until
    the budget resets."""
    api = config.api_config
    warnings = []
    if dataflow is not None:
        processes = dataflow.workers * prices["machines"][dataflow.machine][0]
        warning = small_share_warning(api.rate_limit_mode, api.rate_limit, processes, "on Dataflow, one per vCPU")
        warnings.extend([warning] if warning else [])
    paced = min(requests, (api.rate_limit or math.inf) * hint.reset_after) if hint is not None else 0
    if hint is not None and hint.remaining < paced:
        warnings.append(
            f"the API's rate-limit headers leave {hint.remaining} requests for the next {hint.reset_after:g} s"
            f"{f' (limit {hint.limit})' if hint.limit is not None else ''}; the run needs {requests:,.0f}: it "
            "pauses each time the budget is spent"
        )
    if api.watermark.enabled and api.watermark.filter == "client":
        warnings.append(
            "watermark.filter is client: a run reads each window newest first from the API's latest record down to "
            "the window; the estimate counts each window's own records only (a total announced is the API's, not "
            "the window's)"
        )
    if api.rate_limit is None:
        warnings.append("no rate_limit: the run's pace is max_concurrent_requests over the API's latency")
    return warnings
