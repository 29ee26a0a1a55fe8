"""Streaming runs on Prism against a live sample API that gains records every second: each poll lands its
records exactly once and soon, a poll that fails is read again by the next one, and a run stopped at its
`--end_time` and started again leaves no gap and no duplicate."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.core.windowing import EPOCH, format_utc
from tests.live_api import POLL_SECONDS, RECORDS_PER_SECOND, streaming_config
from tests.support import merged, prism_location, read_jsonl
from tests.transforms.test_toolkit_pagination import STRATEGIES

#: Two records a page, so that each poll (about 6 records) walks several pages.
SMALL_PAGES = {"api_config": {"pagination": {"page_size": 2}}}

#: The README's speed settings for a fast backfill: 16 requests at once, page ranges fetched 16 at a time.
README_SPEED = {
    "api_config": {
        "max_concurrent_requests": 16,
        "parallel_config": {"type": "known_pages", "max_concurrent_pages": 16},
    }
}

#: Endpoint settings a streaming run must handle alike, each walking several pages a poll: walks with and without
#: `primary_key`, a cursor walk, page ranges fetched in parallel with the README's speed settings, and a `lag`.
CASES = {
    "page_number": SMALL_PAGES,
    "page_number_without_primary_key": merged(
        SMALL_PAGES, {"api_config": {"endpoints": {"items": {"primary_key": None}}}}
    ),
    "cursor": merged(STRATEGIES["cursor_with_list_index"], SMALL_PAGES),
    "known_pages_readme_speed": merged(README_SPEED, SMALL_PAGES),
    "lag": merged(SMALL_PAGES, {"streaming": {"lag": "1s"}}),
}


def written_ids(folder) -> Counter:
    return Counter(row["id"] for row in read_jsonl(folder / "out", recursive=True))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@pytest.mark.parametrize("case", list(CASES))
def test_every_record_lands_once_within_two_poll_intervals(case, live_api, run_streaming, tmp_path):
    config = streaming_config(live_api.api.url, tmp_path, **CASES[case])
    run = run_streaming(config, 20)
    lag = timedelta(seconds=1) if case == "lag" else timedelta(0)

    assert run.code == 0, run.report["run"]["errors"]
    watermark = run.watermark()
    ticks = run.poll_times()
    # the final watermark is the last poll's end: the last tick's, or the one before when the last was skipped
    assert watermark in (ticks[-1] - lag, ticks[-2] - lag)
    if watermark != ticks[-1] - lag:
        assert run.report["counters"]["polls_skipped"] > 0
    # exactly the records stamped before the last poll's end, each once: none lost, none twice
    written = written_ids(tmp_path)
    expected = live_api.ids_before(watermark)
    assert sorted(written) == expected
    assert [i for i, n in written.items() if n > 1] == []
    assert len(expected) >= 15 * RECORDS_PER_SECOND
    # the watermark never passed a record that was not written yet, and only moved forward
    assert run.lapses == []
    assert run.watermarks == sorted(set(run.watermarks))
    # each record reached the outputs within two poll intervals of the moment the API first served it
    latency = run.report["polls"]["latency_ms"]
    assert latency["count"] == len(expected)
    assert latency["max"] <= 2 * POLL_SECONDS * 1000
    written_within = run.report["polls"]["write_latency_ms"]  # each poll's oldest row, to the poll's commit
    assert 6 <= written_within["count"] <= run.report["run"]["endpoint_stats"]["items"]["polls"]  # polls with rows
    assert written_within["max"] <= 2 * POLL_SECONDS * 1000
    rows = read_jsonl(tmp_path / "out", recursive=True)
    waits = [(parse_timestamp(r["_extracted_at"]) - parse_timestamp(r["updated_at"])).total_seconds() for r in rows]
    assert min(waits) >= lag.total_seconds()
    assert percentile(waits, 0.95) <= 2 * POLL_SECONDS
    stats = run.report["run"]["endpoint_stats"]["items"]
    assert stats["polls"] == run.report["counters"]["polls"] >= 6
    assert stats["polls_failed"] == 0
    assert stats["pages"] >= 2 * stats["polls"]  # the polls walked several pages each
    assert run.report["run"]["records_processed"] == len(expected)
    per_poll = run.report["polls"]["records_per_poll"]
    assert per_poll["count"] == stats["polls"]
    assert per_poll["sum"] == len(expected)


def test_a_poll_that_fails_is_read_again_by_the_next_and_nothing_is_lost(live_api, run_streaming, tmp_path):
    config = streaming_config(live_api.api.url, tmp_path)
    outage = threading.Timer(6.0, lambda: _fail_for(live_api.api, 5.0))
    outage.start()
    run = run_streaming(config, 22)
    outage.join()

    assert run.code == 1  # the failed polls' windows are in the dead letter
    dead = read_jsonl(tmp_path / "dead_letter")
    assert dead and {row["kind"] for row in dead} == {"window"}
    assert {row["status"] for row in dead} == {"failed"}
    assert all("503" in row["error"] for row in dead), [row["error"] for row in dead]
    stats = run.report["run"]["endpoint_stats"]["items"]
    assert stats["polls_failed"] == len(dead) >= 2
    assert stats["polls"] - stats["polls_failed"] >= 5
    assert run.report["run"]["status"] == "succeeded"  # the later polls read the failed windows again
    # every record before the final watermark is written; a failed window that fetched nothing wrote nothing,
    # so its records are written exactly once, by the poll that read it again
    watermark = run.watermark()
    written = written_ids(tmp_path)
    assert sorted(set(written)) == live_api.ids_before(watermark)
    unfetched = [row for row in dead if row["pages_fetched"] == 0]
    assert unfetched
    for row in unfetched:
        start, end = parse_timestamp(row["window_start"]), parse_timestamp(row["window_end"])
        ids = [i for i in written if start <= live_api.stamped(i) < end]
        assert ids and all(written[i] == 1 for i in ids)
    # the watermark held at the failed window's start until it was read again, and never passed unwritten data
    assert run.lapses == []
    assert run.watermarks == sorted(set(run.watermarks))
    first_failed = min(parse_timestamp(row["window_start"]) for row in dead)
    assert first_failed in run.watermarks

    # the dead letters of a streaming run replay as a batch run (on Prism, as the pipeline's runs need): each
    # failed poll's window again, and those of successive failed polls overlap (each starts at the held watermark)
    replay = ["replay", "--config", str(tmp_path / "pipeline.yaml"), "--dead_letter", str(tmp_path / "dead_letter")]
    assert main([*replay, "--runner=PrismRunner", f"--prism_location={prism_location()}"]) == 0
    again = Counter(row["id"] for row in read_jsonl(tmp_path / "out", recursive=True)) - written
    failed_windows = [(parse_timestamp(r["window_start"]), parse_timestamp(r["window_end"])) for r in dead]
    expected_again = Counter(
        {i: sum(start <= live_api.stamped(i) < end for start, end in failed_windows) for i in written}
    )
    assert again == +expected_again and again
    assert run.watermark() == watermark  # the replayed windows are behind it


@pytest.mark.parametrize("primary_key", ["id", None])
def test_a_run_stopped_at_its_end_time_and_started_again_leaves_no_gap(primary_key, live_api, run_streaming, tmp_path):
    changes = {"api_config": {"endpoints": {"items": {"primary_key": primary_key}}}}
    config = streaming_config(live_api.api.url, tmp_path, **changes)
    first = run_streaming(config, 9)
    stopped_at = first.watermark()
    second = run_streaming(config, 9)

    assert (first.code, second.code) == (0, 0)
    assert stopped_at in first.poll_times()
    assert second.report["watermarks"]["items"]["before"] == format_utc(stopped_at)
    watermark = second.watermark()
    assert watermark in second.poll_times()
    # the second run's first poll read the backlog from where the first stopped: each record once
    written = written_ids(tmp_path)
    assert sorted(written) == live_api.ids_before(watermark)
    assert [i for i, n in written.items() if n > 1] == []
    assert [i for i in written if live_api.stamped(i) < stopped_at]  # both runs wrote records
    assert [i for i in written if live_api.stamped(i) >= stopped_at]
    assert first.lapses == second.lapses == []


def _fail_for(api, seconds: float) -> None:
    """Every data request answers 503 for `seconds`."""
    api.set_faults(answer_faults=("503",))
    threading.Timer(seconds, lambda: api.set_faults(answer_faults=())).start()


def test_a_backfill_behind_the_stored_watermark_reads_its_failed_window_again(live_api, run_streaming, tmp_path):
    config = streaming_config(live_api.api.url, tmp_path, api_config={"watermark": {"window": {"window_size": "3s"}}})
    first = run_streaming(config, 12)
    stored = first.watermark()
    backfill_from = _next_grid_point(live_api.stamped(1), seconds=3)
    failing = backfill_from + timedelta(seconds=3)  # the backfill's second window, behind the stored watermark
    assert failing + timedelta(seconds=3) <= stored
    failed_ids = [
        i for i in live_api.ids_before(stored) if failing <= live_api.stamped(i) < failing + timedelta(seconds=3)
    ]
    live_api.api.set_faults(answer_faults=("500",), answer_fault_since=format_utc(failing), answer_fault_count=2)
    second = run_streaming(config, 8, "--start_time", format_utc(backfill_from))

    assert first.code == 0 and second.code == 1  # the failed window is in the dead letter
    (dead,) = read_jsonl(tmp_path / "dead_letter")
    assert (dead["window_start"], dead["status"]) == (format_utc(failing), "failed")
    assert second.watermark() > stored
    written = written_ids(tmp_path)
    assert sorted(set(written)) == live_api.ids_before(second.watermark())
    # written by the first run, and by the backfill's next poll, which read the failed window again
    assert failed_ids and [written[i] for i in failed_ids] == [2] * len(failed_ids)
    assert first.lapses == second.lapses == []


def _next_grid_point(moment: datetime, seconds: int) -> datetime:
    """The first multiple of `seconds` since the epoch after `moment` (window_size windows are cut there)."""
    step = timedelta(seconds=seconds)
    return EPOCH + ((moment - EPOCH) // step + 1) * step
