"""Run alerts: at a run's end, one webhook message (Slack-compatible `text`) naming the `alerts.on` conditions the
run met. The webhook URL is a secret: it is resolved only to send, masked in every log line, and a webhook that
fails is retried and logged without it; it never changes the run's outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import requests
from tenacity import RetryError, retry, stop_after_attempt, wait_exponential

from beam_api_pipeline.config import AlertsConfig, format_duration, resolve_references
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.logging_setup import RedactingFilter, register_secrets
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.run.report import RunReport

logger = logging.getLogger(__name__)
# urllib3 logs each request's path at DEBUG, and a webhook's path is its secret: masked before any handler (a
# worker's, pytest's) sees the line.
logging.getLogger("urllib3.connectionpool").addFilter(RedactingFilter())

#: Attempts to deliver one message, and the most seconds between them.
SEND_ATTEMPTS = 3
MAX_WAIT_SECONDS = 4.0
_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class RunFacts:
    """What a finished run did, as far as alerts care: its record, where its dead letters went, its job URL,
    each endpoint's watermark after it, the quality checks that failed (`QualityOutcome.summary`), and its time
    fetching and throttled (None where the run's kind does not know them: a Dataflow job, a run read back by
    `status`)."""

    run: PipelineRun
    dead_letter_location: str = ""
    job_url: str = ""
    watermarks: dict[str, datetime | None] | None = None
    quality_failures: tuple[str, ...] | None = None
    fetch_seconds: float | None = None
    throttled_seconds: float | None = None


def report_facts(report: RunReport) -> RunFacts:
    """The facts of a local run, from its report."""
    failures = tuple(outcome.summary() for outcome in report.quality if outcome.failed)
    return RunFacts(
        report.run,
        dead_letter_location=report.dead_letter_location,
        watermarks=report.watermarks_after,
        quality_failures=failures,
        fetch_seconds=report.count(metrics.FETCH_MSECS) / 1000,
        throttled_seconds=report.count(metrics.THROTTLED_MSECS) / 1000,
    )


def job_url(project: str, region: str, job_id: str) -> str:
    """The Dataflow console page of a job."""
    return f"https://console.cloud.google.com/dataflow/jobs/{region}/{job_id}?project={project}"


def conditions_met(alerts: AlertsConfig, facts: RunFacts, now: datetime) -> dict[str, str]:
    """Each condition of `alerts.on` the run met, with one line saying how."""
    run = facts.run
    found: dict[str, str] = {}
    if run.status == RunStatus.FAILED:
        errors = "; ".join(run.errors) or "no error recorded"
        windows = f" ({run.windows_failed} windows failed)" if run.windows_failed else ""
        found["failure"] = f"the run failed{windows}: {errors}"
    if run.dead_letter_rows:
        found["dead_letters"] = f"{run.dead_letter_rows} rows went to the dead letter"
    if facts.quality_failures:
        found["quality"] = "quality checks failed: " + "; ".join(facts.quality_failures)
    throttled, fetching = facts.throttled_seconds, facts.fetch_seconds
    if throttled is not None and fetching and throttled / fetching > alerts.rate_limited_share:
        found["rate_limited"] = (
            f"throttled {throttled:.1f} s of {fetching:.1f} s fetching "
            f"({throttled / fetching:.0%}, more than rate_limited_share {alerts.rate_limited_share:g})"
        )
    stale = _stale_watermarks(facts.watermarks or {}, now - alerts.stale_after)
    if stale:
        found["stale_watermark"] = f"watermarks older than {format_duration(alerts.stale_after)}: {stale}"
    return {condition: line for condition, line in found.items() if condition in alerts.on}


def _stale_watermarks(watermarks: dict[str, datetime | None], oldest_fresh: datetime) -> str:
    return ", ".join(
        f"{endpoint} at {format_utc(watermark)}"
        for endpoint, watermark in watermarks.items()
        if watermark is not None and watermark < oldest_fresh
    )


def alert_message(facts: RunFacts, conditions: dict[str, str]) -> dict[str, object]:
    """The JSON message: Slack's `text`, and the same facts as fields for other receivers."""
    run = facts.run
    lines = [f"beam_api_pipeline {run.pipeline_id}, run {run.run_id} ({run.status}): {', '.join(conditions)}"]
    lines.extend(f"- {condition}: {line}" for condition, line in conditions.items())
    if facts.dead_letter_location and run.dead_letter_rows:
        lines.append(f"dead letters: {facts.dead_letter_location}")
    if facts.job_url:
        lines.append(f"job: {facts.job_url}")
    return {
        "text": "\n".join(lines),
        "pipeline_id": run.pipeline_id,
        "run_id": run.run_id,
        "status": str(run.status),
        "conditions": list(conditions),
        "dead_letter_location": facts.dead_letter_location,
        "job_url": facts.job_url,
    }


def send_run_alert(alerts: AlertsConfig | None, facts: RunFacts, now: datetime) -> bool:
    """Send the run's alert if it met a condition of `alerts.on` and a webhook is set; True when one was
    delivered. Every failure is logged (without the URL) and swallowed."""
    if alerts is None or alerts.webhook is None:
        return False
    conditions = conditions_met(alerts, facts, now)
    if not conditions:
        return False
    try:
        url = resolve_references(alerts.webhook.get_secret_value())
    except ConfigError as error:
        logger.warning("alerts.webhook: %s; the alert for run %s was not sent", error, facts.run.run_id)
        return False
    register_secrets(_secret_parts(url))
    try:
        _post(url, alert_message(facts, conditions))
    except RetryError as error:
        failure = error.last_attempt.exception()
        logger.warning(
            "alerts.webhook: the alert for run %s was not delivered after %d attempts (%s)",
            facts.run.run_id,
            SEND_ATTEMPTS,
            _describe(failure),
        )
        return False
    logger.info("alerts.webhook: sent the alert for run %s (%s)", facts.run.run_id, ", ".join(conditions))
    return True


def _secret_parts(url: str) -> list[str]:
    """The URL and each part of it that may hold its secret, as a log line may show it: the path, with and
    without its query, and each query value (Google Chat's `?key=...&token=...`)."""
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    return [url, target, parts.path, *(value for _, value in parse_qsl(parts.query))]


@retry(stop=stop_after_attempt(SEND_ATTEMPTS), wait=wait_exponential(multiplier=0.5, max=MAX_WAIT_SECONDS))
def _post(url: str, message: dict[str, object]) -> None:
    requests.post(url, json=message, timeout=_TIMEOUT_SECONDS).raise_for_status()


def _describe(error: BaseException | None) -> str:
    """The failure without the URL, which requests' messages contain."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}"
    return type(error).__name__
