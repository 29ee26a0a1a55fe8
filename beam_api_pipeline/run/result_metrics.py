"""The figures of a finished Beam result that the run report shows: its counters, a streaming run's poll
distributions, and the request rate it achieved. Every metric is named by its object in `core.metrics`."""

from __future__ import annotations

from apache_beam.metrics.metric import MetricsFilter

from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.metrics import name_of
from beam_api_pipeline.run.report import Distribution, PollFigures

#: The counters every run report has (0 when the run counted nothing).
REPORTED_COUNTERS = tuple(
    name_of(counter)
    for counter in (
        metrics.PAGES,
        metrics.REQUESTS,
        metrics.NOT_MODIFIED,
        metrics.RETRIES,
        metrics.RATE_LIMITED,
        metrics.RECORDS_FETCHED,
        metrics.RECORDS_OUTSIDE_WINDOW,
        metrics.RECORDS_INVALID,
        metrics.WINDOWS_NOT_FILTERED,
        metrics.FILES_WRITTEN,
        metrics.DEAD_LETTER_FILES,
        metrics.PAGE_RANGES,
        metrics.SPLIT_PARTS,
        metrics.DEFERRED_REMAINDERS,
        metrics.RATE_LIMIT_STORE_OUTAGES,
        metrics.CHILD_TASKS_SUCCEEDED,
        metrics.CHILD_TASKS_FAILED,
        metrics.POLLS,
        metrics.POLLS_SKIPPED,
        metrics.THROTTLED_MSECS,
        metrics.FETCH_MSECS,
        metrics.QUALITY_ROWS_FAILED,
        metrics.QUALITY_WINDOWS_FAILED,
        metrics.SCHEMA_ROWS_REFUSED,
        metrics.SCHEMA_VALUES_DISCARDED,
    )
)


def counters(result) -> dict[str, int]:
    """The run's `REPORTED_COUNTERS`, and its quality checks' (`quality_*`) and endpoints' 429s
    (`rate_limited_429_*`) that counted something."""
    found = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE))["counters"]
    totals = dict.fromkeys(REPORTED_COUNTERS, 0)
    for counter in found:
        name = counter.key.metric.name
        if name in totals or name.startswith((metrics.QUALITY_OF, metrics.RATE_LIMITED_OF)):
            totals[name] = totals.get(name, 0) + (counter.committed or 0)
    return totals


def poll_figures(result) -> PollFigures:
    """A streaming run's `record_latency_ms`, `poll_write_latency_ms` and `records_per_poll`."""
    return PollFigures(
        distribution(result, metrics.RECORD_LATENCY_MS),
        distribution(result, metrics.POLL_WRITE_LATENCY_MS),
        distribution(result, metrics.RECORDS_PER_POLL),
    )


def distribution(result, metric) -> Distribution | None:
    """The run's values of the distribution `metric` (one of `core.metrics`), None when it has none."""
    query = MetricsFilter().with_namespace(metrics.NAMESPACE).with_name(name_of(metric))
    found = [entry.committed for entry in result.metrics().query(query)["distributions"] if entry.committed]
    count = sum(d.count for d in found)
    if not count:
        return None
    return Distribution(count, sum(d.sum for d in found), min(d.min for d in found), max(d.max for d in found))


def achieved_rate(result) -> float | None:
    """Requests per second from the first request sent to the last (`metrics.REQUEST_SENT_MS`)."""
    sent = distribution(result, metrics.REQUEST_SENT_MS)
    if sent is None or sent.count < 2:
        return None
    span_ms = sent.greatest - sent.least
    return (sent.count - 1) / (span_ms / 1000) if span_ms > 0 else None
