"""The run report: a table per endpoint and the watermark before → after, as text or JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.metrics import name_of
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.plan.poll_record import POLLS, POLLS_FAILED
from beam_api_pipeline.plan.run_plan import RunPlan
from beam_api_pipeline.records.quality_rules import QualityOutcome

#: The endpoint table's columns: (heading, key in the report's `endpoints`). `records` are the records fetched
#: (in and outside their windows), `written` the rows handed to the outputs, `rate_limited_429` the 429 answers
#: retried (apart from the other `retries`).
_COLUMNS = (
    ("windows", "windows"),
    ("done", "windows_done"),
    ("failed", "windows_failed"),
    ("pages", "pages"),
    ("fetched", "records"),
    ("written", "written"),
    ("outside", "outside"),
    ("invalid", "invalid"),
    ("retries", "retries"),
    ("429s", "rate_limited_429"),
    ("errors", "errors"),
    ("fetch s", "seconds"),
)
#: Columns shown when some endpoint's stats have them (the fetch records them where the API announces them).
_WHEN_KNOWN = (("announced", "announced_total"), ("page size", "page_size"))


@dataclass(frozen=True)
class RateUse:
    """How fast the run sent requests (`achieved`, per second, None with fewer than two) against the job's
    `rate_limit` held in `mode`."""

    mode: str
    rate_limit: float | None
    achieved: float | None

    def to_dict(self) -> dict[str, Any]:
        achieved = round(self.achieved, 1) if self.achieved is not None else None
        return {"mode": self.mode, "rate_limit": self.rate_limit, "achieved": achieved}

    def line(self) -> str:
        achieved = f"{self.achieved:.1f} requests/s achieved" if self.achieved is not None else "too few requests"
        if self.rate_limit is None:
            return f"  rate: {achieved} (no rate_limit)"
        return f"  rate: {achieved} of rate_limit {self.rate_limit:g} (rate_limit_mode {self.mode})"


@dataclass(frozen=True)
class Distribution:
    """A Beam distribution metric of a run: how many values, their sum, the least and the greatest."""

    count: int
    total: int
    least: int
    greatest: int

    @property
    def mean(self) -> float:
        return self.total / self.count

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "sum": self.total,
            "mean": round(self.mean, 1),
            "min": self.least,
            "max": self.greatest,
        }


@dataclass(frozen=True)
class PollFigures:
    """A streaming run's `record_latency_ms` (from each row's `timestamp_field` to its handing to the outputs),
    `poll_write_latency_ms` (from each poll's oldest row to its commit, when every row of it is written) and
    `records_per_poll`, each None when nothing was measured."""

    latency_ms: Distribution | None
    write_latency_ms: Distribution | None
    records_per_poll: Distribution | None

    def to_dict(self) -> dict[str, Any]:
        figures = {
            "latency_ms": self.latency_ms,
            "write_latency_ms": self.write_latency_ms,
            "records_per_poll": self.records_per_poll,
        }
        return {name: figure.to_dict() if figure else None for name, figure in figures.items()}

    def lines(self) -> list[str]:
        lines = []
        if self.records_per_poll:
            per_poll = self.records_per_poll
            lines.append(f"  records per poll: {per_poll.mean:.1f} on average, at most {per_poll.greatest}")
        if self.latency_ms:
            latency = self.latency_ms
            lines.append(
                f"  latency: {latency.count} rows reached the outputs {latency.mean / 1000:.1f} s after their "
                f"timestamp on average, at most {latency.greatest / 1000:.1f} s"
            )
        if self.write_latency_ms:
            lines.append(
                f"  written: every poll within {self.write_latency_ms.greatest / 1000:.1f} s of its oldest row's "
                "timestamp"
            )
        return lines


@dataclass(frozen=True)
class RunReport:
    """What a finished local run did; `quality` is what each data quality check found (in config order)."""

    plan: RunPlan
    run: PipelineRun
    counters: dict[str, int]
    watermarks_after: dict[str, datetime | None]
    rate: RateUse
    dead_letter_location: str = ""
    quality: tuple[QualityOutcome, ...] = ()
    polls: PollFigures | None = None

    @property
    def succeeded(self) -> bool:
        """Every window completed and nothing went to the dead letter."""
        return self.run.status == RunStatus.SUCCEEDED and self.run.dead_letter_rows == 0

    def count(self, metric) -> int:
        """What the run counted of `metric`, a counter of `core.metrics` (0 when it has no value)."""
        return self.counters.get(name_of(metric), 0)

    def endpoints(self) -> dict[str, dict[str, float]]:
        """Per endpoint, its stats in the run record (its 429 answers retried among them: `rate_limited_429`)."""
        return {endpoint: dict(self.run.endpoint_stats.get(endpoint, {})) for endpoint in self.plan.watermarks_before}

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-friendly data (`--report_json`)."""
        return {
            "run": self.run.to_dict(),
            "endpoints": self.endpoints(),
            "counters": self.counters,
            "rate": self.rate.to_dict(),
            "dead_letter_location": self.dead_letter_location,
            "quality": [outcome.to_dict() for outcome in self.quality],
            "polls": self.polls.to_dict() if self.polls else None,
            "watermarks": {
                endpoint: {"before": _iso(before), "after": _iso(self.watermarks_after.get(endpoint))}
                for endpoint, before in self.plan.watermarks_before.items()
            },
        }


def _iso(moment: datetime | None) -> str | None:
    return format_utc(moment) if moment else None


def _cell(value: float | str) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def format_report(report: RunReport) -> str:
    """The report as a short text table."""
    run = report.run
    elapsed = (run.end_time - run.start_time).total_seconds() if run.end_time else 0.0
    endpoints = report.endpoints()
    known = [column for column in _WHEN_KNOWN if any(column[1] in stats for stats in endpoints.values())]
    columns = [*_COLUMNS, *known]
    rows = [["endpoint", *(heading for heading, _ in columns), "watermark"]]
    for endpoint, before in report.plan.watermarks_before.items():
        stats = endpoints[endpoint]
        after = report.watermarks_after.get(endpoint)
        watermark = f"{_iso(before) or '(none)'} -> {_iso(after) or '(none)'}"
        counts = (_cell(stats.get(key, 0)) for _, key in _COLUMNS)
        told = (_cell(stats.get(key, "-")) for _, key in known)  # "-": this endpoint's API does not tell
        rows.append([endpoint, *counts, *told, watermark])
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns) + 1)]
    table = [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    count = report.count
    total = (
        f"  total: {run.windows_done} windows done, {run.windows_failed} failed, {count(metrics.REQUESTS)} requests "
        f"({count(metrics.RATE_LIMITED)} answered 429), {run.records_processed} records written"
    )
    lines = [f"run {run.run_id}: {run.status} in {elapsed:.1f} s", *table]
    if report.plan.polls is None:
        lines.append(f"{total}, {count(metrics.FILES_WRITTEN)} files")
    else:  # the files of a poll are not counted: WriteToText names them once the poll's window is closed
        lines.extend([total, _polls_line(run, count(metrics.POLLS_SKIPPED))])
        if report.polls:
            lines.extend(report.polls.lines())
    lines.append(report.rate.line())
    if count(metrics.NOT_MODIFIED):
        lines.append(f"  conditional requests: {count(metrics.NOT_MODIFIED)} answered 304 Not Modified (no rows)")
    split, deferred = count(metrics.SPLIT_PARTS), count(metrics.DEFERRED_REMAINDERS)
    if split or deferred:
        lines.append(f"  runner: {split} window parts split, {deferred} remainders deferred")
    lines.extend(outcome.line() for outcome in report.quality)
    lines.extend(estimate_lines(endpoints, elapsed))
    if run.dead_letter_rows:
        lines.append(f"  dead letters: {run.dead_letter_rows} rows in {report.dead_letter_location}")
    lines.extend(f"  error: {error}" for error in run.errors)
    return "\n".join(lines)


def _polls_line(run: PipelineRun, skipped: int) -> str:
    """A streaming run's polls per endpoint (done and failed), and the ticks skipped while a poll was in flight."""
    polls = []
    for endpoint, stats in sorted(run.endpoint_stats.items()):
        count, failed = int(stats.get(POLLS, 0)), int(stats.get(POLLS_FAILED, 0))
        polls.append(f"{endpoint} {count - failed} done, {failed} failed")
    return f"  polls: {'; '.join(polls) or 'none'} ({skipped} ticks skipped: a poll was in flight)"


def estimate_lines(endpoints: dict[str, dict[str, float]], elapsed: float) -> list[str]:
    """Per endpoint whose stats hold a plan's estimate (`run --plan_json`), the estimate beside what happened:
    records fetched, requests (pages and retries) and the run's time."""
    lines = []
    for endpoint, stats in endpoints.items():
        if "estimated_records" not in stats:
            continue
        requests = stats.get("pages", 0) + stats.get("retries", 0)
        figures = [
            _beside("records", stats["estimated_records"], stats.get("records", 0)),
            _beside("requests", stats["estimated_requests"], requests),
            _beside("time", stats["estimated_seconds"], elapsed, ".1f", " s"),
        ]
        lines.append(f"  plan vs run, {endpoint}: {'; '.join(figures)}")
    return lines


def _beside(name: str, estimated: float, actual: float, form: str = ",.0f", unit: str = "") -> str:
    """`records 1,488 planned, 1,488 real (+0.0%)`."""
    off = f" ({(estimated - actual) / actual:+.1%})" if actual else ""
    return f"{name} {estimated:{form}}{unit} planned, {actual:{form}}{unit} real{off}"
