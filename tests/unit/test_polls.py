"""Where each poll of a streaming run starts reading, and how its commit adds up in the run record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from beam_api_pipeline.run_plan import LAST_POLL_FAILED, POLLS, POLLS_FAILED
from beam_api_pipeline.transforms.commit import add_poll
from beam_api_pipeline.transforms.polls import committed_polls, next_poll_start
from beam_api_pipeline.watermark.runs import PipelineRun, RunStatus
from tests.support import t

NO_LOOKBACK = timedelta(0)


@pytest.mark.parametrize(
    ("watermark", "lookback", "last_start", "first_start", "expected"),
    [
        # the first poll: --start_time, else the watermark - lookback, else (None) the initial watermark
        (t("2024-01-05"), NO_LOOKBACK, None, t("2024-01-01"), t("2024-01-01")),
        (t("2024-01-05"), timedelta(hours=1), None, None, t("2024-01-04T23:00")),
        (None, NO_LOOKBACK, None, None, None),
        # later polls: the committed watermark - lookback
        (t("2024-01-05"), NO_LOOKBACK, t("2024-01-04"), None, t("2024-01-05")),
        (t("2024-01-05"), timedelta(hours=1), t("2024-01-04T23:00"), t("2024-01-01"), t("2024-01-04T23:00")),
        # the last poll's first window failed: its start again (the watermark did not move, or there is none)
        (t("2024-01-04T23:00"), timedelta(hours=1), t("2024-01-04T22:00"), None, t("2024-01-04T22:00")),
        (t("2024-01-03"), NO_LOOKBACK, t("2024-01-04"), None, t("2024-01-04")),
        (None, NO_LOOKBACK, t("2024-01-01"), t("2024-01-01"), t("2024-01-01")),
        # a failed window in the middle of the last poll: from that window's start
        (t("2024-01-04T12:00"), NO_LOOKBACK, t("2024-01-04"), None, t("2024-01-04T12:00")),
    ],
)
def test_each_poll_starts_where_the_committed_watermark_says(watermark, lookback, last_start, first_start, expected):
    assert next_poll_start(watermark, lookback, last_start, first_start) == expected


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


def test_polls_add_up_and_the_run_fails_only_while_its_last_poll_of_an_endpoint_failed():
    running = PipelineRun("run-1", "p", RunStatus.RUNNING, t("2024-01-05T00:00"), service_name="svc")
    first = add_poll(running, _poll(1, 0, 6, []))
    assert committed_polls(first) == {"items": 1}
    failed = add_poll(first, _poll(0, 1, 0, ["items 2024-01-05T00:00:02Z/..: 503"]))
    recovered = add_poll(failed, _poll(1, 0, 9, []))

    assert failed.status == RunStatus.FAILED
    assert failed.endpoint_stats["items"][LAST_POLL_FAILED] == 1
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
    }
    assert committed_polls(recovered) == {"items": 3}
    assert (recovered.records_processed, recovered.windows_done, recovered.windows_failed) == (15, 2, 1)
    assert recovered.errors == ["items 2024-01-05T00:00:02Z/..: 503"]
    assert recovered.dead_letter_rows == 1
    assert (recovered.start_time, recovered.end_time, recovered.service_name) == (
        t("2024-01-05T00:00"),
        t("2024-01-05T00:01"),
        "svc",
    )


def test_a_run_keeps_its_newest_errors():
    run = PipelineRun("run-1", "p", RunStatus.RUNNING, t("2024-01-05"))
    for index in range(25):
        run = add_poll(run, _poll(0, 1, 0, [f"error {index}"]))
    assert run.errors == [f"error {index}" for index in range(5, 25)]
    assert committed_polls(run) == {"items": 25}
    assert committed_polls(None) == {}
