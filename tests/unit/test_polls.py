"""A streaming run's record, poll by poll: where each poll starts reading, how a commit adds up, and a commit the
runner retries counted once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.watermarks import WindowOutcome
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.poll_record import (
    LAST_POLL_END,
    LAST_POLL_FAILED,
    POLLS,
    POLLS_FAILED,
    RESUME_AT,
    EndpointPoll,
    add_poll,
    committed_polls,
    next_poll_start,
    to_micros,
)
from tests.support import t

HOUR = timedelta(hours=1)
NONE = timedelta(0)


@pytest.mark.parametrize(
    ("stored", "resume_at", "lookback", "last_start", "first_start", "expected"),
    [
        # the run's first poll: --start_time, else the stored watermark - lookback, else (None) initial_watermark
        (t("2024-01-05"), None, NONE, None, t("2024-01-01"), t("2024-01-01")),
        (t("2024-01-05"), None, HOUR, None, None, t("2024-01-04T23:00")),
        (None, None, NONE, None, None, None),
        # later polls: where the last one got to - lookback
        (t("2024-01-05"), t("2024-01-05"), NONE, t("2024-01-04"), None, t("2024-01-05")),
        (t("2024-01-05"), t("2024-01-05"), HOUR, t("2024-01-04T23:00"), None, t("2024-01-04T23:00")),
        # a failed window in the middle of the last poll: from its start
        (t("2024-01-04T12:00"), t("2024-01-04T12:00"), NONE, t("2024-01-04"), None, t("2024-01-04T12:00")),
        # the last poll's first window failed: that poll's start again, lookback or not
        (None, t("2024-01-04"), NONE, t("2024-01-04"), None, t("2024-01-04")),
        (t("2024-01-04T23:00"), t("2024-01-04T22:00"), HOUR, t("2024-01-04T22:00"), None, t("2024-01-04T22:00")),
        # a backfill behind the stored watermark whose second day failed: that day, though the store is ahead
        (t("2024-01-09"), t("2024-01-02"), NONE, t("2024-01-01"), t("2024-01-01"), t("2024-01-02")),
    ],
)
def test_each_poll_starts_where_the_last_one_got_to(stored, resume_at, lookback, last_start, first_start, expected):
    assert next_poll_start(stored, resume_at, lookback, last_start, first_start) == expected


def test_an_endpoints_part_of_a_poll_resumes_after_its_complete_windows_from_the_first():
    days = [Window(t(f"2024-01-0{day}"), t(f"2024-01-0{day + 1}")) for day in (1, 2, 3)]
    outcomes = [WindowOutcome(days[0], True), WindowOutcome(days[1], False), WindowOutcome(days[2], True)]
    assert EndpointPoll.of(outcomes) == EndpointPoll(t("2024-01-04"), t("2024-01-02"))
    assert EndpointPoll.of([WindowOutcome(days[0], False), *outcomes[1:]]).resume_at == t("2024-01-01")
    assert EndpointPoll.of([WindowOutcome(d, True) for d in days]).resume_at == t("2024-01-04")


def _poll(windows_done: int, windows_failed: int, records: int, errors: list[str]) -> PipelineRun:
    stats = {"windows": windows_done + windows_failed, "windows_done": windows_done, "windows_failed": windows_failed}
    stats.update(pages=2, records=records, retries=1, errors=windows_failed, seconds=0.25)
    return PipelineRun(
        "run-1",
        "p",
        RunStatus.FAILED if windows_failed else RunStatus.SUCCEEDED,
        t("2024-01-05T00:00"),
        t("2024-01-05T00:01"),
        records_processed=records,
        errors=errors,
        windows_done=windows_done,
        windows_failed=windows_failed,
        endpoint_stats={"items": stats},
        dead_letter_rows=windows_failed,
    )


def _part(end: datetime, resume_at: datetime) -> dict[str, EndpointPoll]:
    return {"items": EndpointPoll(end, resume_at)}


def test_polls_add_up_and_the_run_fails_only_while_its_last_poll_of_an_endpoint_failed():
    running = PipelineRun("run-1", "p", RunStatus.RUNNING, t("2024-01-05T00:00"), service_name="svc")
    first = add_poll(running, _poll(1, 0, 6, []), _part(t("2024-01-05T00:00:02"), t("2024-01-05T00:00:02")))
    failed_part = _part(t("2024-01-05T00:00:04"), t("2024-01-05T00:00:02"))
    failed = add_poll(first, _poll(0, 1, 0, ["items 2024-01-05T00:00:02Z/..: 503"]), failed_part)
    recovered = add_poll(failed, _poll(1, 0, 9, []), _part(t("2024-01-05T00:00:06"), t("2024-01-05T00:00:06")))

    assert failed.status == RunStatus.FAILED
    assert failed.endpoint_stats["items"][LAST_POLL_FAILED] == 1
    assert committed_polls(failed) == failed_part
    assert recovered.status == RunStatus.SUCCEEDED
    assert recovered.endpoint_stats["items"] == {
        "windows": 3,
        "windows_done": 2,
        "windows_failed": 1,
        "pages": 6,
        "records": 15,
        "retries": 3,
        "errors": 1,
        "seconds": 0.75,
        POLLS: 3,
        POLLS_FAILED: 1,
        LAST_POLL_FAILED: 0,
        LAST_POLL_END: to_micros(t("2024-01-05T00:00:06")),
        RESUME_AT: to_micros(t("2024-01-05T00:00:06")),
    }
    assert (recovered.records_processed, recovered.windows_done, recovered.windows_failed) == (15, 2, 1)
    assert recovered.errors == ["items 2024-01-05T00:00:02Z/..: 503"]
    assert recovered.dead_letter_rows == 1
    assert (recovered.start_time, recovered.end_time, recovered.service_name) == (
        t("2024-01-05T00:00"),
        t("2024-01-05T00:01"),
        "svc",
    )


def test_a_commit_the_runner_retries_is_counted_once():
    running = PipelineRun("run-1", "p", RunStatus.RUNNING, t("2024-01-05T00:00"))
    part = _part(t("2024-01-05T00:00:02.123456"), t("2024-01-05T00:00:02.123456"))
    once = add_poll(running, _poll(1, 0, 6, []), part)
    assert add_poll(once, _poll(1, 0, 6, []), part) == once
    assert committed_polls(once) == part  # exact to the microsecond


def test_a_run_keeps_its_newest_errors():
    run = PipelineRun("run-1", "p", RunStatus.RUNNING, t("2024-01-05"))
    for index in range(25):
        part = _part(t("2024-01-05") + index * timedelta(seconds=2), t("2024-01-05"))
        run = add_poll(run, _poll(0, 1, 0, [f"error {index}"]), part)
    assert run.errors == [f"error {index}" for index in range(5, 25)]
    assert run.endpoint_stats["items"][POLLS] == 25
    assert committed_polls(None) == {}


def test_polls_add_up_announced_totals_and_keep_the_largest_page_served():
    running = PipelineRun("run-1", "p", RunStatus.RUNNING, t("2024-01-05T00:00"))
    polls = []
    for second, (announced, page_size) in enumerate([(30, 10), (12, 4)], start=1):
        poll = _poll(1, 0, announced, [])
        stats = {**poll.endpoint_stats["items"], "announced_total": announced, "page_size": page_size}
        polls.append((replace(poll, endpoint_stats={"items": stats}), t(f"2024-01-05T00:00:0{second}")))
    first = add_poll(running, polls[0][0], _part(polls[0][1], polls[0][1]))
    second = add_poll(first, polls[1][0], _part(polls[1][1], polls[1][1]))
    assert (second.endpoint_stats["items"]["announced_total"], second.endpoint_stats["items"]["page_size"]) == (42, 10)
