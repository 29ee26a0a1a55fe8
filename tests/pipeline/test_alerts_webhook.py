"""Run alerts from whole runs: a real webhook receiver on 127.0.0.1 gets exactly one message per run that meets a
condition of `alerts.on`, built from what the run did (its windows, dead letters, counters, quality checks,
watermarks), none for a clean run; the exit code is the run's; the URL (a secret) is never logged; a launched job
sends it from its commit step. Runs are real runs of the command line against the sample API. Sending alone (the
conditions asked for, failing, unreachable and query-token webhooks) is in tests/unit/test_alert_delivery.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.cli import main
from beam_api_pipeline.config.options import read_template_run
from beam_api_pipeline.flex_template import build_pipeline
from tests.fakes.webhook import WebhookReceiver
from tests.support import items_config, runner_mode_args, t, write_yaml

#: The secret part of the webhook URL, as in Slack's https://hooks.slack.com/services/T.../B.../<token>.
HOOK_PATH = "/services/T0001/B0002/s3cr3t-hook-token"
EVERY_CONDITION = ["failure", "dead_letters", "quality", "rate_limited", "stale_watermark"]
#: Older than any data the sample API serves: no watermark of these runs is stale.
NEVER_STALE = "36500d"


@pytest.fixture
def receiver():
    with WebhookReceiver() as webhook:
        yield webhook


def alerting_config(
    sample_api, tmp_path: Path, monkeypatch, webhook: WebhookReceiver, **alerts: Any
) -> tuple[Path, dict[str, Any]]:
    """The sample /items config with `alerts` (every condition, nothing stale unless changed), its webhook
    given as a `${env:...}` reference."""
    monkeypatch.setenv("ALERT_WEBHOOK", webhook.at(HOOK_PATH))
    section = {"webhook": "${env:ALERT_WEBHOOK}", "on": EVERY_CONDITION, "stale_after": NEVER_STALE, **alerts}
    data = items_config(sample_api.url, tmp_path, alerts=section)
    return write_yaml(tmp_path / "pipeline.yaml", data), data


def run(path: Path, *args: str) -> int:
    return main(["--log_level", "DEBUG", "run", "--config", str(path), "--no_progress", *args])


def test_a_clean_run_exits_0_and_sends_nothing(sample_api, tmp_path, monkeypatch, receiver):
    path, _ = alerting_config(sample_api, tmp_path, monkeypatch, receiver)

    assert run(path, "--end_time", "2024-01-04T00:00:00Z") == 0
    assert receiver.posts == []


def test_failed_windows_send_one_message_naming_failure_and_dead_letters_with_where_to_look(
    sample_api, tmp_path, monkeypatch, receiver, capfd, caplog
):
    sample_api.set_faults(fail_since=["2024-01-03T00:00:00Z"])
    path, _ = alerting_config(sample_api, tmp_path, monkeypatch, receiver)

    assert run(path, "--end_time", "2024-01-05T00:00:00Z") == 1

    (post,) = receiver.posts
    message = post["message"]
    assert post["path"] == HOOK_PATH
    assert message["conditions"] == ["failure", "dead_letters"]
    assert (message["pipeline_id"], message["status"]) == ("sample_items", "failed")
    assert message["dead_letter_location"] == str(tmp_path / "dead_letter")
    lines = message["text"].splitlines()
    assert lines[0] == f"beam_api_pipeline sample_items, run {message['run_id']} (failed): failure, dead_letters"
    assert lines[1].startswith("- failure: the run failed (1 windows failed): items 2024-01-03T00:00:00Z/")
    assert lines[2:] == ["- dead_letters: 1 rows went to the dead letter", f"dead letters: {tmp_path / 'dead_letter'}"]
    logged = capfd.readouterr()
    assert "sent the alert for run" in logged.err
    assert '"POST *** HTTP/1.1" 200' in caplog.text  # urllib3's line, as every handler gets it
    for text in (logged.err, logged.out, caplog.text):
        assert "s3cr3t-hook-token" not in text


def test_invalid_records_alone_exit_1_and_alert_dead_letters_not_a_failure(sample_api, tmp_path, monkeypatch, receiver):
    sample_api.set_faults(strip_fields=["updated_at"], strip_every=8)
    path, _ = alerting_config(sample_api, tmp_path, monkeypatch, receiver)

    assert run(path, "--end_time", "2024-01-03T00:00:00Z") == 1

    (message,) = receiver.messages
    assert (message["conditions"], message["status"]) == (["dead_letters"], "succeeded")
    assert message["text"].splitlines()[1] == "- dead_letters: 6 rows went to the dead letter"


def test_a_throttled_run_and_its_stale_watermark_are_alerted_from_its_counters_and_store(
    sample_api, tmp_path, monkeypatch, receiver
):
    """The run's fetch and throttled times (its counters) and its watermark (its store) reach the one message."""
    path, data = alerting_config(sample_api, tmp_path, monkeypatch, receiver, stale_after="2d")
    data["api_config"]["rate_limit"] = 4  # 10 requests at 4 a second: most of the fetch time waits for the bucket
    write_yaml(path, data)

    assert run(path, "--end_time", "2024-01-04T00:00:00Z") == 0

    (message,) = receiver.messages
    assert message["conditions"] == ["rate_limited", "stale_watermark"]
    rate_limited, stale = message["text"].splitlines()[1:]
    assert rate_limited.startswith("- rate_limited: throttled ")
    assert rate_limited.endswith("more than rate_limited_share 0.5)")
    assert stale == "- stale_watermark: watermarks older than 2d: items at 2024-01-04T00:00:00Z"


def test_a_quality_check_that_only_warns_still_alerts_and_leaves_the_exit_code(
    sample_api, tmp_path, monkeypatch, receiver
):
    sample_api.set_faults(quality_fields=True)  # `state` is "spam" in records 50, 75, 100, ...
    path, data = alerting_config(sample_api, tmp_path, monkeypatch, receiver)
    check = {"check": "accepted_values", "field": "state", "values": ["open", "closed"], "action": "warn"}
    data["api_config"]["endpoints"]["items"]["quality"] = [check]
    write_yaml(path, data)

    assert run(path, "--end_time", "2024-01-04T00:00:00Z") == 0

    (message,) = receiver.messages
    assert (message["conditions"], message["status"]) == (["quality"], "succeeded")
    spam = [i for i in sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04")) if i % 25 == 0]
    windows = {sample_api.dataset.record(i).updated_at.date() for i in spam}
    failed = f"items accepted_values state warn: {len(spam)} rows failed, {len(windows)} windows with a failure"
    assert message["text"].splitlines()[1:] == [f"- quality: quality checks failed: {failed}"]


@pytest.mark.parametrize("mode", ["in_memory", "prism"])
def test_a_launched_job_sends_its_alert_from_its_commit_step(sample_api, tmp_path, monkeypatch, receiver, mode):
    """The graph the Flex Template launcher submits to Dataflow (nobody waits for it), run here on a local
    runner: the commit step sends the one message."""
    sample_api.set_faults(fail_since=["2024-01-03T00:00:00Z"])
    path, _ = alerting_config(sample_api, tmp_path, monkeypatch, receiver, stale_after="2d")
    template_run = read_template_run(PipelineOptions([f"--pipeline_config={path}", "--end_time=2024-01-05"]))

    pipeline, plan = build_pipeline(template_run, runner_mode_args(mode), job_alerts=True)
    pipeline.run().wait_until_finish()

    (message,) = receiver.messages
    assert (message["run_id"], message["status"]) == (plan.run_id, "failed")
    assert message["conditions"] == ["failure", "dead_letters", "stale_watermark"]
    assert message["text"].splitlines()[2:] == [
        "- dead_letters: 1 rows went to the dead letter",
        "- stale_watermark: watermarks older than 2d: items at 2024-01-03T00:00:00Z",
        f"dead letters: {tmp_path / 'dead_letter'}",
    ]
