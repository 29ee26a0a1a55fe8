"""The fault matrix: every fault the sample API can inject, each run through the command line on DirectRunner,
asserting what the user gets: the exact ids written, the exact windows in the dead letter, the exit code, the
stored watermark and the message. docs/reliability.md has the same cases as a table."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from sample_api.answers import HTML_ERROR_PAGE
from tests.support import t

START, END = "2024-01-02", "2024-01-05T00:00:00Z"
BROKEN_WINDOW = "2024-01-03T00:00:00Z"
FAST_TIMEOUT = {"api_config": {"timeout": 0.5}}  # local answers take milliseconds


def page_url(api, since: str, until: str, page: int, per_page: int = 10) -> str:
    """The (redacted) URL the pipeline requests for a page of /items, as messages show it."""
    bounds = f"since={since.replace(':', '%3A')}&until={until.replace(':', '%3A')}"
    return f"{api.url}/items?{bounds}&page={page}&per_page={per_page}"


def expected_ids(api, start: str = START, end: str = END) -> list[int]:
    return api.dataset.ids_between(t(start), t(end.removesuffix("Z")))


# name: (faults, config changes); every one of these recovers: all 144 records, 15 pages, exit 0.
RECOVERED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "5xx burst": ({"answer_faults": ["503"], "answer_fault_after": 4, "answer_fault_count": 4}, {}),
    "500/502/503 mixed": ({"answer_faults": ["500", "502", "503"], "answer_fault_every": 4}, {}),
    "connection dropped mid-body": ({"answer_faults": ["drop"], "answer_fault_every": 4}, {}),
    "stall past the read timeout": (
        {"answer_faults": ["stall"], "answer_fault_every": 5, "stall_seconds": 1.0},
        FAST_TIMEOUT,
    ),
    "malformed JSON": ({"answer_faults": ["malformed_json"], "answer_fault_every": 4}, {}),
    "HTML error page with 200": ({"answer_faults": ["html_200"], "answer_fault_every": 4}, {}),
    "empty body with 200": ({"answer_faults": ["empty_200"], "answer_fault_every": 4}, {}),
    "50 MB page": ({"answer_faults": ["huge_page"], "answer_fault_count": 2}, {}),
}


@pytest.mark.parametrize("case", list(RECOVERED))
def test_transient_faults_are_retried_and_lose_nothing(case, sample_api, pipeline_file, run_pipeline):
    faults, changes = RECOVERED[case]
    sample_api.set_faults(**faults)
    outcome = run_pipeline(pipeline_file(**changes), END)

    assert outcome.code == 0, outcome.stdout
    assert outcome.ids == expected_ids(sample_api)
    assert outcome.dead == []
    assert outcome.watermark == t("2024-01-05")
    injected = sum(sample_api.injected().values())
    assert injected > 0
    retried = 0 if case == "50 MB page" else injected  # a big page is a good answer, not a retry
    assert outcome.report["counters"]["retries"] == retried
    assert outcome.report["counters"]["requests"] == 15 + retried  # the server may still be sleeping on a stall


@pytest.mark.parametrize(
    ("retry_after", "as_date", "every", "rate_limited", "least_wait"),
    [("1", False, 8, 2, 1.0), ("2", True, 8, 2, 1.0), ("0", False, 3, 7, 0.0)],
    ids=["seconds", "HTTP date", "zero"],
)
def test_429_honours_retry_after_in_seconds_as_a_date_and_zero(
    retry_after, as_date, every, rate_limited, least_wait, sample_api, pipeline_file, run_pipeline
):
    sample_api.set_faults(rate_limit_every=every, retry_after=retry_after, retry_after_date=as_date)
    started = time.monotonic()
    outcome = run_pipeline(pipeline_file(), END)
    elapsed = time.monotonic() - started

    assert outcome.code == 0
    assert outcome.ids == expected_ids(sample_api)
    assert outcome.watermark == t("2024-01-05")
    assert sample_api.stats()["by_status"] == {"200": 15, "429": rate_limited}  # one retry per 429: no storm
    assert outcome.report["counters"]["retries"] == rate_limited
    assert elapsed >= rate_limited * least_wait


def test_records_duplicated_across_page_boundaries_are_written_once(sample_api, pipeline_file, run_pipeline):
    sample_api.set_faults(boundary_duplicates=3)
    outcome = run_pipeline(pipeline_file(), END)

    assert outcome.code == 0
    assert outcome.ids == expected_ids(sample_api)  # sorted with duplicates kept: equal means none
    assert outcome.watermark == t("2024-01-05")


@pytest.mark.parametrize("style", ["offset", "naive", "epoch"])
def test_timestamps_with_offsets_without_zone_or_as_epoch_place_every_record(
    style, sample_api, pipeline_file, run_pipeline
):
    sample_api.set_faults(timestamp_style=style)
    outcome = run_pipeline(pipeline_file(), END)

    assert outcome.code == 0
    assert outcome.ids == expected_ids(sample_api)
    assert outcome.report["run"]["records_processed"] == 144
    assert outcome.watermark == t("2024-01-05")


# name: (faults, config changes, the error of the dead-lettered window 2024-01-03 (`{url}`: its first page),
#        requests that window took)
PERSISTENT: dict[str, tuple[dict[str, Any], dict[str, Any], str, int]] = {
    "5xx that never ends": ({"answer_faults": ["503"]}, {}, "{url} answered 503", 6),
    "connection always dropped": (
        {"answer_faults": ["drop"]},
        {},
        "{url} failed: ChunkedEncodingError (the connection dropped before the whole body arrived)",
        6,
    ),
    "server always stalls": (
        {"answer_faults": ["stall"], "stall_seconds": 1.0},
        {"api_config": {"timeout": 0.5, "retry": {"max_attempts": 2}}},
        "{url} failed: ReadTimeout (no answer within the 0.5 s timeout)",
        2,
    ),
    "always HTML with 200": (
        {"answer_faults": ["html_200"]},
        {},
        "{url} answered 200 with a body that is not JSON (text/html; charset=utf-8; Expecting value: line 1 "
        "column 1 (char 0)): " + repr(HTML_ERROR_PAGE[:200].decode().strip()),
        6,
    ),
    "always an empty body": ({"answer_faults": ["empty_200"]}, {}, "{url} answered 200 with an empty body", 6),
    "always a JSON error object with 200": (
        {"answer_faults": ["error_200"]},
        {},
        "items: the answer of {bare_url} has no 'items' (records_path); its keys: error",
        1,
    ),
}


@pytest.mark.parametrize("case", list(PERSISTENT))
def test_a_window_that_keeps_failing_is_dead_lettered_and_holds_the_watermark(
    case, sample_api, pipeline_file, run_pipeline
):
    faults, changes, error, window_requests = PERSISTENT[case]
    sample_api.set_faults(**faults, answer_fault_since=[BROKEN_WINDOW])
    outcome = run_pipeline(pipeline_file(**changes), END)

    assert outcome.code == 1
    assert outcome.ids == expected_ids(sample_api, START, "2024-01-03") + expected_ids(sample_api, "2024-01-04")
    assert outcome.watermark == t("2024-01-03")
    url = page_url(sample_api, BROKEN_WINDOW, "2024-01-04T00:00:00Z", 1)
    expected_error = error.format(url=f"GET {url}", bare_url=url)
    assert [(d["kind"], d["window_start"], d["status"], d["error"]) for d in outcome.dead] == [
        ("window", BROKEN_WINDOW, "failed", expected_error)
    ]
    assert outcome.report["run"]["errors"] == [f"items {BROKEN_WINDOW}/2024-01-04T00:00:00Z: {expected_error}"]
    assert sum(sample_api.injected().values()) == window_requests
    assert outcome.report["counters"]["requests"] == 10 + window_requests
    assert f"  dead letters: 1 rows in {outcome.report['dead_letter_location']}" in outcome.stdout


def test_malformed_json_that_never_heals_names_the_url_and_the_parse_error(sample_api, pipeline_file, run_pipeline):
    sample_api.set_faults(answer_faults=["malformed_json"], answer_fault_since=[BROKEN_WINDOW])
    outcome = run_pipeline(pipeline_file(), END)

    assert outcome.code == 1
    assert outcome.watermark == t("2024-01-03")
    [dead] = outcome.dead
    url = page_url(sample_api, BROKEN_WINDOW, "2024-01-04T00:00:00Z", 1)
    prefix = f"GET {url} answered 200 with a body that is not JSON (application/json; "
    assert dead["window_start"] == BROKEN_WINDOW
    assert dead["error"].startswith(prefix)
    assert '): \'{"items": [{"id": 97, ' in dead["error"]


def test_401_mid_run_fails_the_window_at_once_and_keeps_what_was_fetched(
    sample_api, pipeline_file, run_pipeline, monkeypatch
):
    monkeypatch.setenv("TOKEN", "tok-mid-run-401")
    sample_api.set_faults(answer_faults=["401"], answer_fault_after=3)
    path = pipeline_file(
        api_config={
            "auth_config": {"auth_type": "bearer", "auth_credentials": {"token": "${env:TOKEN}"}},
            "pagination": {"page_size": 5},
        }
    )
    outcome = run_pipeline(path, "2024-01-03T00:00:00Z")

    assert outcome.code == 1
    assert outcome.ids == expected_ids(sample_api, START, "2024-01-03")[:15]  # pages 1-3 of 10
    assert outcome.watermark is None
    url = page_url(sample_api, "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", 4, per_page=5)
    assert [(d["window_start"], d["pages_fetched"], d["retries"], d["error"]) for d in outcome.dead] == [
        ("2024-01-02T00:00:00Z", 3, 0, f'GET {url} answered 401: {{"message": "Bad credentials"}}')
    ]
    assert sample_api.stats()["requests"] == 4  # not retried
    assert "tok-mid-run-401" not in outcome.stdout + str(outcome.dead) + str(outcome.report)


@pytest.mark.parametrize(
    ("status", "body"),
    [("403", '{"message": "Forbidden: this token may not read this resource"}'), ("404", '{"message": "Not Found"}')],
)
def test_403_and_404_are_not_retried_and_name_the_endpoint(status, body, sample_api, pipeline_file, run_pipeline):
    sample_api.set_faults(answer_faults=[status])
    outcome = run_pipeline(pipeline_file(), END)

    assert outcome.code == 1
    assert outcome.ids == []
    assert outcome.watermark is None
    days = ["2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z", END]
    assert sorted((d["window_start"], d["retries"], d["error"]) for d in outcome.dead) == [
        (since, 0, f"GET {page_url(sample_api, since, until, 1)} answered {status}: {body}")
        for since, until in itertools.pairwise(days)
    ]
    assert sample_api.stats()["requests"] == 3  # one per window
    assert outcome.report["run"]["errors"][0].startswith("items 2024-01-0")


@pytest.mark.parametrize(
    ("field", "reason"), [("updated_at", "updated_at: not a timestamp: None"), ("id", "primary_key id: missing")]
)
def test_records_missing_the_timestamp_or_key_are_dead_lettered_the_rest_written(
    field, reason, sample_api, pipeline_file, run_pipeline
):
    sample_api.set_faults(strip_fields=[field], strip_every=7)
    outcome = run_pipeline(pipeline_file(), END)

    assert outcome.code == 1
    assert outcome.ids == [i for i in expected_ids(sample_api) if i % 7]
    assert sorted(d["record"]["title"] for d in outcome.dead) == sorted(
        f"Item {i}" for i in expected_ids(sample_api) if i % 7 == 0
    )
    assert {(d["kind"], d["error"]) for d in outcome.dead} == {("record", reason)}
    assert outcome.watermark == t("2024-01-05")  # the windows completed; the records wait in the dead letter
    assert outcome.report["run"]["dead_letter_rows"] == len(outcome.dead) == 21  # ids 49, 56, ... 189
