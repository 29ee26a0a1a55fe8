"""ReadFromApi alone (its records placed and de-duplicated by TransformRecords, as a run writes them), in a
TestPipeline on the local runner against the sample API over HTTP: the exact ids of each endpoint, each window
part's result (status, pages, records, retries, the error), the counters, and the watermark a commit of those
results stores (`run_plan.watermarks_after`, as CommitWatermark computes it). Whole runs that show what only the
whole shows (files, the run report, the exit code, a second run) are in tests/pipeline/test_extraction.py."""

from __future__ import annotations

import json

from beam_api_pipeline.plan.run_plan import WindowStatus
from sample_api import Dataset, SampleApi
from tests.support import t
from tests.transform_support import Read, config

CURSOR_EVENTS = {"path": "/events", "records_path": "data"}


def test_a_cursor_endpoint_and_a_page_number_endpoint_read_together(sample_api, tmp_path):
    cursor = {"strategy": "cursor", "cursor_path": "meta.next_cursor", "page_size": 7}
    changes = {
        "endpoints": {
            "items": {"path": "/items", "records_path": "items"},
            "events": {**CURSOR_EVENTS, "pagination": cursor},
        }
    }
    read = Read(tmp_path, config(tmp_path, sample_api.url, api_config=changes), "2024-01-02", "2024-01-04T12:00")

    expected = sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04T12:00"))
    assert read.ids("items") == read.ids("events") == expected
    assert read.watermarks == {"items": t("2024-01-04T12:00"), "events": t("2024-01-04T12:00")}


def test_transient_errors_and_429s_lose_nothing(sample_api, tmp_path):
    sample_api.set_faults(error_rate=0.1, rate_limit_every=9, retry_after="0", seed=7)
    read = Read(tmp_path, config(tmp_path, sample_api.url), "2024-01-02", "2024-01-06")

    assert read.ids() == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-06"))  # each once
    by_status = sample_api.stats()["by_status"]
    assert by_status.get("500", 0) > 0 and by_status.get("429", 0) > 0
    assert read.watermarks == {"items": t("2024-01-06")}
    failures = by_status["500"] + by_status["429"]
    assert read.counters["retries"] == sum(r.retries for r in read.results) == failures  # the report's retries
    assert read.counters["requests"] == sample_api.stats()["requests"] == 20 + failures


def test_reaching_max_pages_truncates_the_window_and_holds_the_watermark(sample_api, tmp_path):
    read = Read(
        tmp_path,
        config(tmp_path, sample_api.url, api_config={"pagination": {"max_pages": 3}}),
        "2024-01-02",
        "2024-01-04",
    )

    day2, day3 = (
        sample_api.dataset.ids_between(t(a), t(b))
        for a, b in [("2024-01-02", "2024-01-03"), ("2024-01-03", "2024-01-04")]
    )
    assert read.ids() == day2[:30] + day3[:30]  # 3 pages of 10 per window, nothing fetched is lost
    assert read.watermarks == {"items": None}
    assert read.window_failures() == [
        ("2024-01-02T00:00:00Z", "truncated", "max_pages (3) reached before the last page"),
        ("2024-01-03T00:00:00Z", "truncated", "max_pages (3) reached before the last page"),
    ]
    assert read.windows_done() == (0, 2)


def test_an_endpoint_s_own_max_pages_applies_to_that_endpoint_only(sample_api, tmp_path):
    cursor = {"strategy": "cursor", "cursor_path": "meta.next_cursor", "page_size": 10, "max_pages": 2}
    changes = {
        "endpoints": {
            "items": {"path": "/items", "records_path": "items"},
            "events": {**CURSOR_EVENTS, "pagination": cursor},
        }
    }
    read = Read(tmp_path, config(tmp_path, sample_api.url, api_config=changes), "2024-01-02", "2024-01-03")

    assert (read.windows_done("items"), read.records("items")) == ((1, 0), 48)
    assert (read.windows_done("events"), read.records("events")) == ((0, 1), 20)
    assert read.watermarks == {"items": t("2024-01-03"), "events": None}


def test_half_an_emoji_in_a_title_is_read_as_the_replacement_character(sample_api, tmp_path):
    """An API that cuts text by UTF-16 units can send half a surrogate pair, which the standard library reads
    and UTF-8 cannot hold: Beam's coders and every sink would fail the run on it. It is read as U+FFFD."""
    sample_api.set_faults(half_emoji_every=7)
    read = Read(tmp_path, config(tmp_path, sample_api.url), "2024-01-02", "2024-01-04")

    assert read.ids() == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))
    assert all(json.dumps(row, ensure_ascii=False).encode("utf-8") for row in read.rows["items"])  # no surrogate
    titles = {row["id"]: row["title"] for row in read.rows["items"]}
    assert {i for i, title in titles.items() if title == f"Item {i}\ufffd"} == {i for i in titles if i % 7 == 0}
    assert all(title == f"Item {i}" for i, title in titles.items() if i % 7)
    assert {r.status for r in read.results} == {WindowStatus.DONE}


def test_client_filter_reads_newest_first_and_stops_after_the_first_older_page(tmp_path):
    with SampleApi(Dataset(records_per_day=12)) as api:
        changes = {
            "endpoints": {"items": {"params": {"order": "desc"}}},
            "watermark": {"filter": "client", "watermark_field": None, "window_end_field": None},
        }
        read = Read(tmp_path, config(tmp_path, api.url, api_config=changes), "2024-01-13", "2024-01-15")

        in_window = api.dataset.ids_between(t("2024-01-13"), t("2024-01-15"))
        assert read.ids() == in_window
        assert read.watermarks == {"items": t("2024-01-15")}
        # each daily window reads from the newest page down to the first page whose records all precede it
        newer = [len(api.dataset.ids_between(start)) for start in (t("2024-01-13"), t("2024-01-14"))]
        assert newer == [2 * 12, 12]
        assert api.stats()["by_path"] == {"/items": sum(-(-count // 10) + 1 for count in newer)}  # 4 + 3, of 17 each


def test_a_walked_window_whose_page_keeps_failing_fails_alone_and_holds_the_watermark(sample_api, tmp_path):
    sample_api.set_faults(fail_since=frozenset({"2024-01-03T00:00:00Z"}))
    read = Read(tmp_path, config(tmp_path, sample_api.url), "2024-01-02", "2024-01-05")

    url = f"{sample_api.url}/items?since=2024-01-03T00%3A00%3A00Z&until=2024-01-04T00%3A00%3A00Z&page=1&per_page=10"
    assert read.window_failures() == [("2024-01-03T00:00:00Z", "failed", f"GET {url} answered 500")]
    assert read.windows_done() == (2, 1) and read.counters["windows_failed"] == 1
    assert read.watermarks == {"items": t("2024-01-03")}  # held at the failed window's start
    days = [("2024-01-02", "2024-01-03"), ("2024-01-04", "2024-01-05")]
    assert read.ids() == [i for a, b in days for i in sample_api.dataset.ids_between(t(a), t(b))]
    assert sample_api.stats()["by_status"] == {"200": 10, "500": 6}  # the failing page asked max_attempts times
