"""`alerts apply` through the command line against a local fake of the Cloud Logging and Monitoring APIs: the
exact metric and policies it sends, idempotence, a changed threshold, conditions left out, and its errors."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.gcp.clients import MONITORING_ENDPOINT_VARIABLE
from beam_api_pipeline.plan.run_plan import new_run_id
from tests.fakes.monitoring_api import FakeMonitoring
from tests.support import items_config, write_yaml

PROJECT = "proj"
JOB_NAME = "^sample-items(-[0-9]{8}t[0-9]{6}z-[0-9a-f]{8})?$"
RUNS_METRIC = "beam_api_pipeline_sample_items_runs"
POLICIES = f"/v3/projects/{PROJECT}/alertPolicies"
ALERTS = {"on": ["failure", "rate_limited", "stale_watermark"], "rate_limited_share": 0.25, "stale_after": "36h"}


def user_counter(metric_name: str) -> str:
    return (
        'metric.type="dataflow.googleapis.com/job/user_counter" AND resource.type="dataflow_job" '
        f'AND resource.label.job_name=monitoring.regex.full_match("{JOB_NAME}") '
        f'AND metric.label.metric_name="{metric_name}"'
    )


PER_JOB = {"alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_MAX", "crossSeriesReducer": "REDUCE_SUM"}
SENT_METRIC = {
    "name": RUNS_METRIC,
    "description": "Runs of pipeline sample_items that reached the watermark commit, by status (succeeded, failed).",
    "filter": f'resource.type="dataflow_step" resource.labels.job_name=~"{JOB_NAME}" '
    'jsonPayload.message=~"^run [^ ]+ (succeeded|failed): "',
    "labelExtractors": {"status": 'REGEXP_EXTRACT(jsonPayload.message, "^run [^ ]+ (succeeded|failed): ")'},
    "metricDescriptor": {
        "metricKind": "DELTA",
        "valueType": "INT64",
        "unit": "1",
        "labels": [{"key": "status", "description": "The run's status, succeeded or failed."}],
    },
}
SENT_RATE_LIMITED = {
    "displayName": "beam_api_pipeline sample_items: rate limited",
    "documentation": {
        "mimeType": "text/markdown",
        "content": "A Dataflow job of pipeline `sample_items` spent more than 0.25 of its fetch time throttled "
        "(waiting for the rate limit or a 429's Retry-After). Lower `rate_limit` or `max_concurrent_requests`, "
        "or ask the API's owner for a higher limit.",
    },
    "combiner": "OR",
    "conditions": [
        {
            "displayName": "throttled_msecs / fetch_msecs of a job of sample_items above 0.25",
            "conditionThreshold": {
                "filter": user_counter("throttled_msecs"),
                "aggregations": [{**PER_JOB, "groupByFields": ["resource.label.job_id"]}],
                "denominatorFilter": user_counter("fetch_msecs"),
                "denominatorAggregations": [{**PER_JOB, "groupByFields": ["resource.label.job_id"]}],
                "comparison": "COMPARISON_GT",
                "thresholdValue": 0.25,
                "duration": "0s",
                "trigger": {"count": 1},
            },
        }
    ],
    "alertStrategy": {"autoClose": "86400s"},
    "userLabels": {"managed_by": "beam_api_pipeline", "pipeline_id": "sample_items", "policy": "rate_limited"},
}
SENT_STALE_CONDITION = {
    "displayName": "no succeeded run of sample_items for 1d12h",
    "conditionPrometheusQueryLanguage": {
        "query": f'absent_over_time(logging_googleapis_com:user_{RUNS_METRIC}{{monitored_resource="dataflow_step", '
        'status="succeeded"}[129600s])',
        "duration": "0s",
        "evaluationInterval": "300s",
    },
}
CREATED = [
    f'created log metric "{RUNS_METRIC}"',
    'created policy "beam_api_pipeline sample_items: run failed"',
    'created policy "beam_api_pipeline sample_items: Dataflow job failed"',
    'created policy "beam_api_pipeline sample_items: rate limited"',
    'created policy "beam_api_pipeline sample_items: watermark stale"',
    'created policy "beam_api_pipeline sample_items: worker disk full"',
    'created policy "beam_api_pipeline sample_items: worker out of memory"',
]


@pytest.fixture
def fake(monkeypatch) -> FakeMonitoring:
    """The fake APIs, listing two policies a page (so that apply must follow page tokens)."""
    with FakeMonitoring(page_size=2) as fake:
        monkeypatch.setenv(MONITORING_ENDPOINT_VARIABLE, fake.url)
        yield fake


def write_config(tmp_path: Path, **changes: Any) -> Path:
    return write_yaml(tmp_path / "pipeline.yaml", items_config("http://127.0.0.1:9", tmp_path, **changes))


def apply(path: Path, capsys) -> list[str]:
    assert main(["alerts", "apply", "--config", str(path), "--project", PROJECT]) == 0
    return capsys.readouterr().out.splitlines()


def sent(fake: FakeMonitoring, method: str) -> list[dict[str, Any]]:
    return [request for request in fake.requests if request["method"] == method]


def by_name(bodies: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {body["displayName"]: body for body in bodies}


def test_apply_creates_the_runs_metric_and_a_policy_per_condition_in_on_plus_the_job_and_worker_ones(
    fake, tmp_path, capsys
):
    assert apply(write_config(tmp_path, alerts=ALERTS), capsys) == CREATED
    created = [request["body"] for request in sent(fake, "POST")]
    assert created[0] == SENT_METRIC
    assert sent(fake, "POST")[0]["path"] == f"/v2/projects/{PROJECT}/metrics"
    policies = by_name(created[1:])
    assert policies["beam_api_pipeline sample_items: rate limited"] == SENT_RATE_LIMITED
    assert policies["beam_api_pipeline sample_items: watermark stale"]["conditions"] == [SENT_STALE_CONDITION]
    failed = policies["beam_api_pipeline sample_items: run failed"]["conditions"][0]["conditionThreshold"]
    assert failed["filter"] == (
        f'metric.type="logging.googleapis.com/user/{RUNS_METRIC}" AND resource.type="dataflow_step" '
        'AND metric.label.status="failed"'
    )
    job = policies["beam_api_pipeline sample_items: Dataflow job failed"]["conditions"][0]["conditionThreshold"]
    assert job["filter"] == (
        'metric.type="dataflow.googleapis.com/job/is_failed" AND resource.type="dataflow_job" '
        f'AND resource.label.job_name=monitoring.regex.full_match("{JOB_NAME}")'
    )
    for name in ("worker disk full", "worker out of memory"):
        policy = policies[f"beam_api_pipeline sample_items: {name}"]
        assert policy["alertStrategy"]["notificationRateLimit"] == {"period": "3600s"}
        assert policy["conditions"][0]["conditionMatchedLog"]["filter"].startswith(
            f'resource.type="dataflow_step" resource.labels.job_name=~"{JOB_NAME}" '
        )
    assert [policy["userLabels"]["policy"] for policy in created[1:]] == [
        "failure",
        "job_failed",
        "rate_limited",
        "stale_watermark",
        "worker_disk",
        "worker_memory",
    ]
    assert len(fake.policies) == 6  # dead_letters and quality are not in `on`


def test_every_condition_in_on_has_its_policy(fake, tmp_path, capsys):
    every = ["failure", "dead_letters", "quality", "rate_limited", "stale_watermark"]
    assert len(apply(write_config(tmp_path, alerts={"on": every}), capsys)) == 1 + 8
    policies = by_name(request["body"] for request in sent(fake, "POST")[1:])
    dead_letters = policies["beam_api_pipeline sample_items: dead letters"]["conditions"][0]["conditionThreshold"]
    assert dead_letters["filter"] == user_counter("x").replace(
        'metric.label.metric_name="x"',
        'metric.label.metric_name=one_of("windows_failed", "child_tasks_failed", "max_pages_reached", '
        '"records_invalid", "dead_letter_files")',
    )
    quality = policies["beam_api_pipeline sample_items: quality checks failed"]["conditions"][0]
    assert quality["conditionThreshold"]["filter"] == user_counter("x").replace(
        'metric.label.metric_name="x"',
        'metric.label.metric_name=one_of("quality_rows_failed", "quality_windows_failed")',
    )
    assert (quality["conditionThreshold"]["comparison"], quality["conditionThreshold"]["thresholdValue"]) == (
        "COMPARISON_GT",
        0,
    )


def test_a_second_apply_sends_nothing_new(fake, tmp_path, capsys):
    path = write_config(tmp_path, alerts=ALERTS)
    apply(path, capsys)
    stored = {name: dict(policy) for name, policy in fake.policies.items()}
    fake.requests.clear()
    assert apply(path, capsys) == [line.replace("created", "unchanged", 1) for line in CREATED]
    assert {request["method"] for request in fake.requests} == {"GET"}
    assert [request["query"].get("pageToken") for request in fake.requests[1:]] == [None, "2", "4"]
    assert fake.policies == stored


def test_a_changed_threshold_patches_that_policy_alone_keeping_its_condition_and_channels(fake, tmp_path, capsys):
    apply(write_config(tmp_path, alerts=ALERTS), capsys)
    name, before = next(
        (name, policy) for name, policy in fake.policies.items() if policy["userLabels"]["policy"] == "rate_limited"
    )
    channels = [f"projects/{PROJECT}/notificationChannels/7"]
    fake.policies[name] = {
        **before,
        "notificationChannels": channels,
        "userLabels": {**before["userLabels"], "team": "data"},
    }
    fake.requests.clear()
    lines = apply(write_config(tmp_path, alerts={**ALERTS, "rate_limited_share": 0.6}), capsys)
    assert lines == [
        line.replace("created", "updated" if "rate limited" in line else "unchanged", 1) for line in CREATED
    ]
    [patch] = [request for request in fake.requests if request["method"] != "GET"]
    assert (patch["method"], patch["path"]) == ("PATCH", f"/v3/{name}")
    assert patch["query"] == {"updateMask": "displayName,documentation,combiner,conditions,alertStrategy,userLabels"}
    after = fake.policies[name]
    condition = after["conditions"][0]
    assert condition["name"] == before["conditions"][0]["name"]
    assert condition["displayName"] == "throttled_msecs / fetch_msecs of a job of sample_items above 0.6"
    assert condition["conditionThreshold"]["thresholdValue"] == 0.6
    assert after["notificationChannels"] == channels
    assert after["userLabels"]["team"] == "data"


def test_a_config_without_alerts_is_refused_before_any_request(fake, tmp_path, capsys):
    code = main(["alerts", "apply", "--config", str(write_config(tmp_path)), "--project", PROJECT])
    assert code == 2
    assert capsys.readouterr().err == "alerts: pipeline sample_items has no alerts section; add one to apply alerts\n"
    assert fake.requests == []


def test_an_api_error_is_one_line_naming_the_policy_and_the_status(fake, tmp_path, capsys):
    fake.errors[("POST", POLICIES)] = 403
    code = main(["alerts", "apply", "--config", str(write_config(tmp_path, alerts=ALERTS)), "--project", PROJECT])
    assert code == 1
    assert capsys.readouterr().err == (
        'error: policy "beam_api_pipeline sample_items: run failed": Cloud Monitoring answered 403: refused\n'
    )


def test_the_job_name_pattern_matches_the_jobs_launch_names_for_this_pipeline_only():
    run_id = new_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)).lower()
    pattern = re.compile(JOB_NAME)
    assert pattern.fullmatch("sample-items")
    assert pattern.fullmatch(f"sample-items-{run_id}")
    assert not pattern.fullmatch(f"sample-items-v2-{run_id}")
    assert not pattern.fullmatch(f"other-sample-items-{run_id}")
