"""The API's limits hold across the polls of a streaming run on Prism: a Retry-After that outlasts the poll
interval holds every later poll's requests back, and `rate_limit` holds for the run, not for each poll."""

from __future__ import annotations

import time

from sample_api.rate_stats import TOO_MANY_REQUESTS, rate_stats
from tests.live_api import streaming_config
from tests.support import read_jsonl

PATIENT_RETRY = {"max_attempts": 5, "base_delay": 0.01, "max_delay": 0.05, "max_time": 30}


def test_a_retry_after_longer_than_the_poll_interval_holds_back_the_next_polls(live_api, run_streaming, tmp_path):
    live_api.api.set_faults(answer_faults=("429",), retry_after="4", answer_fault_after=3, answer_fault_count=1)
    config = streaming_config(live_api.api.url, tmp_path, api_config={"retry": PATIENT_RETRY})
    run = run_streaming(config, 16)

    assert run.code == 0, run.report["run"]["errors"]
    answers = live_api.api.answers()
    (throttled,) = [index for index, (_at, _path, status) in enumerate(answers) if status == TOO_MANY_REQUESTS]
    pause = answers[throttled + 1][0] - answers[throttled][0]
    assert 4.0 <= pause < 6.0, pause  # no request of any poll went out while the API asked to wait
    assert run.report["counters"]["polls_skipped"] >= 1  # the ticks during the wait found the poll in flight
    written = sorted(row["id"] for row in read_jsonl(tmp_path / "out", recursive=True))
    assert written == live_api.ids_before(run.watermark())
    assert run.report["run"]["endpoint_stats"]["items"]["retries"] == 1


def test_rate_limit_holds_for_the_whole_run_across_polls(live_api, run_streaming, tmp_path):
    api = {"rate_limit": 2, "pagination": {"page_size": 1}, "retry": PATIENT_RETRY}
    config = streaming_config(live_api.api.url, tmp_path, api_config=api)
    started = time.monotonic()
    run = run_streaming(config, 16)

    assert run.code == 0, run.report["run"]["errors"]
    stats = rate_stats(live_api.api.answers(), start=started)
    assert stats.throttled == 0
    assert stats.busiest_second <= 2 + 2  # 2 a second, and a burst of the one second of tokens saved up
    assert stats.answers >= 20  # each record is a page: the limit, not the polls, sets the pace
    written = sorted(row["id"] for row in read_jsonl(tmp_path / "out", recursive=True))
    assert written == live_api.ids_before(run.watermark())
