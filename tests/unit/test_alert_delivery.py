"""`send_run_alert` on a run's facts, to a real webhook receiver on 127.0.0.1: only the conditions `alerts.on`
asks for are sent; a failing, unreachable or query-token webhook is retried, logged without its secret and never
raises. Whole runs that alert (the facts a run gives, exit codes, a launched job's commit step) are in
tests/pipeline/test_alerts_webhook.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from beam_api_pipeline.config import AlertsConfig
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.run.alerts import RunFacts, send_run_alert
from tests.fakes.webhook import WebhookReceiver
from tests.support import t

HOOK_PATH = "/services/T0001/B0002/s3cr3t-hook-token"
NOW = datetime(2024, 1, 5, tzinfo=UTC)


def alerts(monkeypatch, url: str, **changes) -> AlertsConfig:
    """Every condition, nothing stale, the webhook given as a `${env:...}` reference to `url`."""
    monkeypatch.setenv("ALERT_WEBHOOK", url)
    return AlertsConfig.model_validate({"webhook": "${env:ALERT_WEBHOOK}", "stale_after": "36500d", **changes})


def failed_run(**changes) -> RunFacts:
    """The facts of a run whose window of 2024-01-03 failed, its one dead letter under /tmp/dead_letter."""
    run = PipelineRun(
        "r1",
        "sample_items",
        RunStatus.FAILED,
        NOW,
        errors=["items 2024-01-03T00:00:00Z/2024-01-04T00:00:00Z: GET /items answered 500"],
        windows_failed=1,
        dead_letter_rows=1,
    )
    return RunFacts(run, dead_letter_location="/tmp/dead_letter", watermarks={"items": t("2024-01-03")}, **changes)


def clean_run() -> RunFacts:
    run = PipelineRun("r2", "sample_items", RunStatus.SUCCEEDED, NOW, windows_done=2)
    return RunFacts(run, watermarks={"items": t("2024-01-04")}, fetch_seconds=1.0, throttled_seconds=0.0)


def test_only_the_conditions_asked_for_are_sent(monkeypatch):
    with WebhookReceiver() as receiver:
        sent = send_run_alert(alerts(monkeypatch, receiver.at(HOOK_PATH), on=["dead_letters"]), failed_run(), NOW)
    assert sent is True
    assert [m["conditions"] for m in receiver.messages] == [["dead_letters"]]


def test_a_failing_webhook_is_retried_logged_without_its_url_and_never_raises(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver(failing=True) as failing:
        assert send_run_alert(alerts(monkeypatch, failing.at(HOOK_PATH)), failed_run(), NOW) is False

    assert len(failing.posts) == 3
    assert len({post["message"]["run_id"] for post in failing.posts}) == 1
    (warning,) = [r.getMessage() for r in caplog.records if "was not delivered" in r.getMessage()]
    assert warning.endswith("was not delivered after 3 attempts (HTTP 500)")
    assert "s3cr3t-hook-token" not in caplog.text


def test_a_webhook_whose_token_is_in_its_query_never_shows_it(monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver() as chat:  # as Google Chat's: /v1/spaces/S/messages?key=...&token=...
        url = chat.at("/v1/spaces/AAAA/messages?key=k3y-Q1w2&token=t0ken-E3r4")
        assert send_run_alert(alerts(monkeypatch, url, stale_after="1d"), clean_run(), datetime.now(UTC)) is True

    (post,) = chat.posts
    assert post["path"] == "/v1/spaces/AAAA/messages?key=k3y-Q1w2&token=t0ken-E3r4"
    assert post["message"]["conditions"] == ["stale_watermark"]
    assert '"POST *** HTTP/1.1" 200' in caplog.text
    logged = capfd.readouterr()
    for text in (logged.err, logged.out, caplog.text):
        assert "k3y-Q1w2" not in text and "t0ken-E3r4" not in text


def test_an_unreachable_webhook_is_logged_and_never_raises(monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    with WebhookReceiver() as gone:
        config = alerts(monkeypatch, gone.at(HOOK_PATH), stale_after="1d")
    # the receiver is shut down: every attempt is refused

    assert send_run_alert(config, clean_run(), datetime.now(UTC)) is False
    assert "was not delivered after 3 attempts (ConnectionError)" in caplog.text
    assert "s3cr3t-hook-token" not in caplog.text
