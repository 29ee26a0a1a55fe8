"""Window keys end to end against the sample API over HTTP: sliding windows, `window.timestamp_field`,
`max_concurrent_windows`, and the `page_ranges` counter."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker

from beam_api_pipeline.cli import main
from beam_api_pipeline.core.runner_profile import RunnerProfile
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.walk_fetch import WalkPagesFn
from beam_api_pipeline.fetch.walk_restriction import PageWalk, PageWalkTracker
from beam_api_pipeline.fetch.window_slots import WindowSlots, shared_window_slots
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask
from tests.pipeline.conftest import run_report
from tests.support import read_jsonl, stored_watermark, t

CURSOR_EVENTS = {
    "endpoints": {"items": {"path": "/events", "records_path": "data", "primary_key": "id"}},
    "pagination": {"strategy": "cursor", "page_size": 2, "cursor_path": "meta.next_cursor"},
}


def test_sliding_windows_write_each_record_once_and_request_the_window_size(sample_api, write_config, tmp_path):
    window = {"window_type": "sliding", "window_size": "6h", "window_slide": "2h"}
    path, config = write_config(
        api_config={"watermark": {"window": window}, "transform": {"add_metadata": True}},
    )
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-02T12:00:00Z")
    assert code == 0

    rows = read_jsonl(tmp_path / "out")
    ids = [row["id"] for row in rows]
    dataset = sample_api.dataset
    assert sorted(ids) == dataset.ids_between(t("2024-01-02"), t("2024-01-02T12:00"))
    assert len(ids) == len(set(ids)) == 24
    ends = [t("2024-01-02") + timedelta(hours=h) for h in (2, 4, 6, 8, 10, 12)]
    # Each row is kept by the 2-hour step that holds it: 4 records a step (one every 30 minutes).
    by_step = sorted((row["_window_start"], row["_window_end"], row["id"]) for row in rows)
    assert by_step == [
        (f"{end - timedelta(hours=2):%Y-%m-%dT%H:%M:%SZ}", f"{end:%Y-%m-%dT%H:%M:%SZ}", record_id)
        for end in ends
        for record_id in dataset.ids_between(end - timedelta(hours=2), end)
    ]
    # Each step's requests reached back the whole window size: the API answered 6 hours of records per step.
    fetched = sum(len(dataset.ids_between(end - timedelta(hours=6), end)) for end in ends)
    assert report["counters"]["records_fetched"] == report["run"]["endpoint_stats"]["items"]["records"] == fetched
    assert fetched == 6 * 12
    assert report["counters"]["requests"] == sample_api.stats()["requests"] == 6 * 2  # 12 records, 10 a page
    assert stored_watermark(config) == t("2024-01-02T12:00")


def test_records_are_placed_by_the_window_timestamp_field(sample_api, write_config, tmp_path):
    # `value` (an integer: epoch seconds in 1970) is the watermark's field, `updated_at` the window's.
    watermark = {"timestamp_field": "value", "window": {"timestamp_field": "updated_at"}}
    path, config = write_config(api_config={"watermark": watermark})
    assert main(["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z"]) == 0
    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))
    assert len(ids) == len(set(ids)) == 2 * 48
    assert stored_watermark(config) == t("2024-01-04")

    # Placed by `value` instead, every record falls outside its 2024 window: nothing is written, and the windows
    # fail instead of moving the watermark over records never written (issue 27)
    out = tmp_path / "by_value"
    path, by_value = write_config(
        pipeline_id="by_value",
        api_config={"watermark": {"timestamp_field": "value"}},
        output=[{"type": "local", "config": {"path": str(out)}}],
    )
    assert main(["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z"]) == 1
    assert read_jsonl(out) == []
    assert stored_watermark(by_value) is None


@pytest.mark.parametrize(
    ("parallel", "fewest", "most"),
    [({"parallel_config": {"type": "time_window", "max_concurrent_windows": 2}}, 2, 2), ({}, 3, 8)],
    ids=["capped", "uncapped"],
)
def test_max_concurrent_windows_caps_the_window_walks_in_flight(
    sample_api, write_config, tmp_path, parallel, fewest, most
):
    sample_api.set_faults(latency_ms=30)
    api = {**CURSOR_EVENTS, "watermark": {"window": {"window_size": "3h"}}, **parallel}
    path, config = write_config(api_config=api)
    end = "2024-01-03T00:00:00Z"
    args = ["--direct_num_workers=8", "--direct_running_mode=multi_threading"]
    assert main(["run", "--config", str(path), "--end_time", end, *args]) == 0

    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    assert len(ids) == len(set(ids)) == 48
    assert stored_watermark(config) == t("2024-01-03")
    stats = sample_api.stats()
    assert stats["by_path"]["/events"] == 8 * 3  # 6 records a window, 2 a page: one request at a time per walk
    assert fewest <= stats["max_in_flight"] <= most


def slot_taken_within(slots: WindowSlots, seconds: float) -> bool:
    """Whether another thread gets a slot of `slots` within `seconds` (it gives it back at once)."""
    taken = threading.Event()

    def take() -> None:
        with slots.hold():
            taken.set()

    threading.Thread(target=take, daemon=True).start()
    return taken.wait(seconds)


def new_walk() -> tuple[ThreadsafeRestrictionTracker, RestrictionTrackerView]:
    """A whole-window walk's tracker, and the view of it that `process` gets."""
    state = ThreadsafeRestrictionTracker(PageWalkTracker(PageWalk()))
    return state, RestrictionTrackerView(state)


def test_a_walk_holds_its_window_slot_while_it_fetches_and_gives_it_back_when_deferred(sample_api, write_config):
    parallel = {"type": "time_window", "max_concurrent_windows": 1}
    _, config = write_config(pipeline_id="window_slot_deferral", api_config={"parallel_config": parallel})
    fn = WalkPagesFn(config, RestExtractor, RunnerProfile(can_defer=True))
    fn.setup()
    slots = shared_window_slots("window_slot_deferral", 1)  # the walk's: one per pipeline and process
    day = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
    try:
        walk = fn.process(day.to_element(), tracker=new_walk()[1])
        outputs = [next(walk)]
        assert not slot_taken_within(slots, 0.3)  # the walk is between two pages: its slot stays taken
        outputs += list(walk)

        sample_api.set_faults(rate_limit_every=1, retry_after="20")
        state, view = new_walk()
        deferred = list(fn.process(day.to_element(), tracker=view))
    finally:
        fn.teardown()
    *batches, result = outputs
    assert [row["id"] for _, rows in batches for row in rows] == sample_api.dataset.ids_between(
        t("2024-01-02"), t("2024-01-03")
    )
    done = WindowResult.from_element(result.value)
    assert (done.status, done.records) == (WindowStatus.DONE, 48)
    assert [WindowResult.from_element(o.value).status for o in deferred] == [WindowStatus.PARTIAL]
    assert state.deferred_status()[0] == PageWalk()
    assert slot_taken_within(slots, 5)  # the deferred walk gave its slot back


def test_page_ranges_counts_one_per_window_planned_as_a_range(sample_api, write_config, tmp_path):
    path, config = write_config(api_config={"parallel_config": {"type": "known_pages"}})

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-05")

    assert code == 0
    assert report["run"]["windows_done"] == report["counters"]["page_ranges"] == 3
    assert stored_watermark(config) == t("2024-01-05")
