"""The whole path on DirectRunner against the sample API: windows → pages → records → files → watermark."""

from __future__ import annotations

import json

from beam_api_pipeline.cli import main
from tests.pipeline.conftest import run_report
from tests.support import read_jsonl, stored_watermark, t


def test_multi_window_run_delivers_exactly_the_ids_in_range(sample_api, write_config, tmp_path, capsys):
    path, config = write_config()
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-06T00:00:00Z")
    assert code == 0, capsys.readouterr()

    rows = read_jsonl(tmp_path / "out")
    ids = [row["id"] for row in rows]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-06"))
    assert len(ids) == len(set(ids)) == 4 * 48
    files = sorted((tmp_path / "out").glob("*.jsonl"))
    assert all(len(f.read_text().splitlines()) <= 30 for f in files)
    assert len(files) >= 7
    assert stored_watermark(config) == t("2024-01-06")
    run = report["run"]
    assert (run["status"], run["windows_done"], run["windows_failed"], run["records_processed"]) == (
        "succeeded",
        4,
        0,
        192,
    )
    assert run["endpoint_stats"]["items"] | {"seconds": 0} == {
        "windows": 4,
        "windows_done": 4,
        "windows_failed": 0,
        "pages": 20,
        "records": 192,
        "written": 192,
        "outside": 0,
        "invalid": 0,
        "retries": 0,
        "rate_limited_429": 0,
        "errors": 0,
        "seconds": 0,
        "announced_total": 192,  # 48 a window, as each window's first page said
        "page_size": 10,
    }
    assert report["run"]["endpoint_stats"]["items"]["seconds"] > 0
    assert report["watermarks"] == {"items": {"before": None, "after": "2024-01-06T00:00:00Z"}}
    assert report["counters"]["files_written"] == len(files)
    out = capsys.readouterr().out
    assert "  items     4        4     0       20     192      192      0        0        0        0     0 " in out


def test_cursor_endpoint_and_page_number_endpoint_in_one_run(sample_api, write_config, tmp_path):
    path, config = write_config(
        api_config={
            "endpoints": {
                "items": {"path": "/items", "records_path": "items"},
                "events": {
                    "path": "/events",
                    "records_path": "data",
                    "pagination": {"strategy": "cursor", "cursor_path": "meta.next_cursor", "page_size": 7},
                },
            }
        }
    )
    assert main(["run", "--config", str(path), "--end_time", "2024-01-04T12:00:00Z"]) == 0
    expected = sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04T12:00"))
    assert sorted(r["id"] for r in read_jsonl(tmp_path / "out" / "items")) == expected
    assert sorted(r["id"] for r in read_jsonl(tmp_path / "out" / "events")) == expected
    assert stored_watermark(config, "events") == t("2024-01-04T12:00")


def test_transient_errors_and_429s_lose_nothing(sample_api, write_config, tmp_path):
    sample_api.set_faults(error_rate=0.1, rate_limit_every=9, retry_after="0", seed=7)
    path, config = write_config()
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-06T00:00:00Z")
    assert code == 0

    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-06"))
    assert len(ids) == len(set(ids))
    by_status = sample_api.stats()["by_status"]
    assert by_status.get("500", 0) > 0 and by_status.get("429", 0) > 0
    assert stored_watermark(config) == t("2024-01-06")
    failures = by_status["500"] + by_status["429"]
    assert report["counters"]["retries"] == report["run"]["endpoint_stats"]["items"]["retries"] == failures
    assert report["counters"]["requests"] == sample_api.stats()["requests"] == 20 + failures


def test_a_window_that_keeps_failing_stops_the_watermark_at_its_start(sample_api, write_config, tmp_path):
    sample_api.set_faults(fail_since=["2024-01-04T00:00:00Z"])
    path, config = write_config()
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-06T00:00:00Z")
    assert code == 1

    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    dataset = sample_api.dataset
    assert ids == dataset.ids_between(t("2024-01-02"), t("2024-01-04")) + dataset.ids_between(
        t("2024-01-05"), t("2024-01-06")
    )
    assert stored_watermark(config) == t("2024-01-04")
    dead = read_jsonl(tmp_path / "dead_letter")
    assert [(d["kind"], d["window_start"], d["status"]) for d in dead] == [("window", "2024-01-04T00:00:00Z", "failed")]
    assert dead[0]["error"].startswith("GET http://127.0.0.1:")
    assert dead[0]["error"].endswith("answered 500")
    run = report["run"]
    assert (run["status"], run["windows_done"], run["windows_failed"]) == ("failed", 3, 1)
    assert run["errors"] == [f"items 2024-01-04T00:00:00Z/2024-01-05T00:00:00Z: {dead[0]['error']}"]
    assert report["watermarks"] == {"items": {"before": None, "after": "2024-01-04T00:00:00Z"}}


def test_a_second_run_fetches_only_new_records(sample_api, write_config, tmp_path, capsys):
    path, config = write_config(api_config={"watermark": {"lookback_window": "1h"}})
    assert main(["run", "--config", str(path), "--end_time", "2024-01-16T00:00:00Z"]) == 0
    first = {row["id"] for row in read_jsonl(tmp_path / "out")}
    assert sorted(first) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-16"))

    new_ids = sample_api.dataset.add_records(3, t("2024-01-16T05:00"))
    sample_api.reset_stats()
    assert main(["run", "--config", str(path), "--end_time", "2024-01-17T00:00:00Z"]) == 0

    rows = read_jsonl(tmp_path / "out")
    second = [row["id"] for row in rows if row["id"] not in first]
    assert sorted(second) == new_ids
    assert len(rows) == len(first) + 3
    assert stored_watermark(config) == t("2024-01-17")
    assert sample_api.stats()["requests"] == 2  # windows [15T23:00, 16T00:00) and [16T00:00, 17T00:00)

    capsys.readouterr()
    assert main(["watermark", "show", "--config", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == {"pipeline_id": "sample_items", "endpoint": "items", "watermark": "2024-01-17T00:00:00Z"}


def test_reaching_max_pages_is_reported_and_holds_the_watermark(sample_api, write_config, tmp_path):
    path, config = write_config(api_config={"pagination": {"max_pages": 3}})
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04T00:00:00Z")
    assert code == 1

    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    day2, day3 = (
        sample_api.dataset.ids_between(t(a), t(b))
        for a, b in [("2024-01-02", "2024-01-03"), ("2024-01-03", "2024-01-04")]
    )
    assert ids == day2[:30] + day3[:30]  # 3 pages of 10 per window, nothing fetched is lost
    assert stored_watermark(config) is None
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted((d["window_start"], d["status"], d["error"]) for d in dead) == [
        ("2024-01-02T00:00:00Z", "truncated", "max_pages (3) reached before the last page"),
        ("2024-01-03T00:00:00Z", "truncated", "max_pages (3) reached before the last page"),
    ]
    assert (report["run"]["windows_done"], report["run"]["windows_failed"]) == (0, 2)


def test_duplicates_in_a_window_are_dropped_and_keyless_records_dead_lettered(
    sample_api, write_config, tmp_path, capsys
):
    path, config = write_config(extractor_class="tests.pipeline.shaky_extractor:ShakyExtractor")
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04T00:00:00Z")
    assert code == 1  # a record without its key is a dead letter: the window completes, the run says so

    expected = sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))
    rows = read_jsonl(tmp_path / "out")
    assert sorted(r["id"] for r in rows) == [i for i in expected if i % 17 != 0]
    assert len(rows) == len({r["id"] for r in rows})
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted(d["record"]["title"] for d in dead) == sorted(f"Item {i}" for i in expected if i % 17 == 0)
    assert {(d["kind"], d["error"]) for d in dead} == {("record", "primary_key id: missing")}
    assert stored_watermark(config) == t("2024-01-04")
    assert report["run"]["records_processed"] == len(rows)
    assert (report["run"]["status"], report["run"]["dead_letter_rows"]) == ("succeeded", len(dead))
    assert f"  dead letters: {len(dead)} rows in {tmp_path / 'dead_letter'}\n" in capsys.readouterr().out


def test_an_endpoint_s_own_max_pages_applies_to_that_endpoint_only(sample_api, write_config, tmp_path):
    cursor = {"strategy": "cursor", "cursor_path": "meta.next_cursor", "page_size": 10, "max_pages": 2}
    path, _ = write_config(
        api_config={
            "endpoints": {
                "items": {"path": "/items", "records_path": "items"},
                "events": {"path": "/events", "records_path": "data", "pagination": cursor},
            }
        }
    )
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03T00:00:00Z")
    assert code == 1
    stats = report["run"]["endpoint_stats"]
    assert (stats["items"]["windows_done"], stats["items"]["records"]) == (1, 48)
    assert (stats["events"]["windows_failed"], stats["events"]["records"]) == (1, 20)
    assert report["watermarks"] == {
        "items": {"before": None, "after": "2024-01-03T00:00:00Z"},
        "events": {"before": None, "after": None},
    }


def test_half_an_emoji_in_a_title_is_read_as_the_replacement_character(sample_api, write_config, tmp_path):
    """An API that cuts text by UTF-16 units can send half a surrogate pair, which the standard library reads
    and UTF-8 cannot hold: Beam's coders and every sink would fail the run on it. It is read as U+FFFD."""
    sample_api.set_faults(half_emoji_every=7)
    path, _ = write_config()
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04T00:00:00Z")

    assert code == 0 and report["run"]["status"] == "succeeded"
    lines = [line for f in sorted((tmp_path / "out").glob("*.jsonl")) for line in f.read_bytes().splitlines()]
    rows = [json.loads(line.decode("utf-8")) for line in lines]  # every line is valid UTF-8
    assert sorted(row["id"] for row in rows) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))
    titles = {row["id"]: row["title"] for row in rows}
    assert {i for i, title in titles.items() if title == f"Item {i}\ufffd"} == {i for i in titles if i % 7 == 0}
    assert all(title == f"Item {i}" for i, title in titles.items() if i % 7)
