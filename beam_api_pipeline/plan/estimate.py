"""`plan`'s arithmetic: from the first pages of a sample of windows to an endpoint's records, pages and requests
(with a confidence range from the sample's spread), and the time a run takes under each of its bounds. Pure: no
I/O, no clock; `run.backfill_plan` fetches the sample.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from statistics import fmean, stdev
from typing import Any

from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.windowing import Window

#: Student's t at 95 % (two-sided) by degrees of freedom; above the table, 1.96.
_T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 15: 2.13, 20: 2.09}
#: Seconds a local run spends before its first request and after its last (Beam's start, commit): measured on
#: the DirectRunner of this repository (see docs/operations.md "Planning a backfill").
LOCAL_START_SECONDS = 3.0


def t95(degrees: int) -> float:
    """Student's t for a two-sided 95 % interval with `degrees` degrees of freedom (the table's next lower row)."""
    rows = [row for row in _T95 if row <= degrees]
    return _T95[max(rows)] if rows and degrees <= 30 else 1.96


def sample_indices(count: int, sample: int) -> list[int]:
    """Which of `count` windows to sample: all of them when `sample` covers them, else `sample` indices spread
    evenly from the first window to the last (both included)."""
    if sample >= count:
        return list(range(count))
    if sample <= 1:
        return [0][:count]
    return sorted({round(i * (count - 1) / (sample - 1)) for i in range(sample)})


def windows_done(windows: Sequence[Window], stored: datetime | None) -> int:
    """How many of `windows` end at or before the `stored` watermark: a run has read them already."""
    return 0 if stored is None else sum(window.end <= stored for window in windows)


@dataclass(frozen=True)
class WindowSample:
    """What the first page of one window said: the records on it, the total it announced (None: none), whether
    it was the window's last page, the page size served and asked, the time its records reach (for a window read
    oldest first without a total: `covered`, the share of the window its records span) and the page's latency."""

    window: Window
    first_page_records: int
    announced: int | None
    last_page: bool
    page_size: int
    latency: float
    covered: float | None = None
    cpu_seconds: float = 0.0

    def records(self) -> tuple[float, str]:
        """The window's estimated record count and how it is known: `total` (announced), `exact` (the first page
        is the last), `extrapolated` (the first page's share of the window's time, `covered`) or `at least`."""
        if self.announced is not None:
            return float(self.announced), "total"
        if self.last_page:
            return float(self.first_page_records), "exact"
        if self.covered:
            return max(self.first_page_records / self.covered, float(self.first_page_records)), "extrapolated"
        return float(self.first_page_records), "at least"


def pages_for(records: float, page_size: int, end_signal: bool) -> float:
    """The pages (= requests) a window of `records` takes: one at least; a walk without an end signal asks one
    more page after a full last page to see it is over."""
    if end_signal:
        return max(1.0, math.ceil(records / page_size))
    return math.floor(records / page_size) + 1.0


@dataclass(frozen=True)
class Estimate:
    """A total estimated from a sample: `value` and its 95 % range [`low`, `high`]; all equal when every window
    was sampled."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {key: round(number, 1) for key, number in asdict(self).items()}

    def text(self) -> str:
        if round(self.low) == round(self.high):
            return f"{self.value:,.0f}"
        return f"{self.value:,.0f} ({self.low:,.0f}-{self.high:,.0f})"


def scaled(values: Sequence[float], population: int) -> Estimate:
    """The total over `population` windows of a quantity whose values in a sample of them are `values`: the
    mean times the population, with a 95 % range from the sample's spread (Student's t, finite population
    corrected: exact when the sample is the population), never below what the sampled windows hold."""
    if not values or population == 0:
        return Estimate(0.0, 0.0, 0.0)
    mean, count = fmean(values), len(values)
    total = mean * population
    if count < 2 or count >= population:
        return Estimate(total, total, total)
    correction = math.sqrt((population - count) / (population - 1))
    margin = t95(count - 1) * stdev(values) / math.sqrt(count) * correction * population
    return Estimate(total, max(sum(values), total - margin), total + margin)  # the sampled windows' own are known


def per_parent(values: Sequence[float], parents: Estimate) -> Estimate:
    """A child endpoint's total from `values`, what each of a sample of parent records held, and the `parents`'
    estimate: the mean times the parents, its range the sample's spread (`scaled`, over as many parents as
    estimated) times the parents' own range."""
    if not values or parents.value <= 0:
        return Estimate(0.0, 0.0, 0.0)
    population = max(len(values), round(parents.value))
    total = scaled(values, population)
    mean = total.value / population
    return Estimate(mean * parents.value, total.low / population * parents.low, total.high / population * parents.high)


@dataclass(frozen=True)
class TimeBounds:
    """The seconds a run's requests take under each bound: `rate_limit` (job-wide requests per second),
    `concurrency` (`max_concurrent_requests` in flight, each the observed latency) and `cpu` (the sampled pages'
    per-record CPU on `cores`); the run takes the longest, plus `start` (the runner's own start and end)."""

    rate_limit: float | None
    concurrency: float
    cpu: float
    start: float

    @property
    def bound_by(self) -> str:
        bounds = {"rate_limit": self.rate_limit or 0.0, "concurrency": self.concurrency, "cpu": self.cpu}
        return max(bounds, key=bounds.__getitem__)

    @property
    def seconds(self) -> float:
        return max(self.rate_limit or 0.0, self.concurrency, self.cpu) + self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate_limit_s": None if self.rate_limit is None else round(self.rate_limit, 1),
            "concurrency_s": round(self.concurrency, 1),
            "cpu_s": round(self.cpu, 1),
            "start_s": round(self.start, 1),
            "seconds": round(self.seconds, 1),
            "bound_by": self.bound_by,
        }


def rate_seconds(requests: float, rate_limit: float | None) -> float | None:
    """Seconds `requests` take at `rate_limit` per second, the pacer's first second of burst (one second of
    requests, `client.pacing.TokenBucket`) going at once; None without a rate limit."""
    if not rate_limit:
        return None
    return max(0.0, requests - max(1.0, rate_limit)) / rate_limit


def time_bounds(
    requests: float,
    records: float,
    rate_limit: float | None,
    max_concurrent: int,
    latency: float,
    cpu_per_record: float,
    cores: int = 1,
    start: float = LOCAL_START_SECONDS,
) -> TimeBounds:
    """The `TimeBounds` of a run of `requests` requests and `records` records."""
    return TimeBounds(
        rate_seconds(requests, rate_limit),
        requests * latency / max(1, max_concurrent),
        records * cpu_per_record / max(1, cores),
        start,
    )


def format_seconds(seconds: float) -> str:
    """`seconds` as `42 s`, `12 min` or `3.5 h`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{timedelta(seconds=seconds) / timedelta(hours=1):.1f} h"


#: The figures of a plan a run record keeps beside each endpoint's own (`run --plan_json`): (stats key, the
#: plan's endpoint figure, which of its value, low and high).
ESTIMATE_KEYS = (
    ("estimated_records", "records", "value"),
    ("estimated_records_low", "records", "low"),
    ("estimated_records_high", "records", "high"),
    ("estimated_requests", "requests", "value"),
    ("estimated_requests_low", "requests", "low"),
    ("estimated_requests_high", "requests", "high"),
)


def estimate_stats(plan: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per endpoint of a plan (`plan --report_json`'s document), the stats a run record keeps beside its own
    (`ESTIMATE_KEYS`), with the plan's time for the whole run as `estimated_seconds`."""
    seconds = plan["time"]["seconds"]
    return {
        endpoint: {key: figures[figure][which] for key, figure, which in ESTIMATE_KEYS} | {"estimated_seconds": seconds}
        for endpoint, figures in plan["endpoints"].items()
    }


def load_estimate(path: str) -> dict[str, dict[str, float]]:
    """`estimate_stats` of the plan written to `path` by `plan --report_json`."""
    try:
        with open(path, encoding="utf-8") as handle:
            return estimate_stats(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"--plan_json: {path} is not a plan written by `plan --report_json`: {error!r}") from None
