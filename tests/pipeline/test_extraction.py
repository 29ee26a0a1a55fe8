"""The whole path on DirectRunner against the sample API: windows → pages → records → files → watermark, for what
only a whole run shows: the files and the run report of a run, a failed window's watermark, dead letter and exit
code, a second run reading only what is new, and invalid records dead-lettered without holding the watermark.
What the read itself does (several endpoints, retries, max_pages, text repair) is tested on ReadFromApi alone in
tests/transforms/test_read_from_api_alone.py."""

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
    assert run["endpoint_stats"]["items"]["errors"] == 1
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


def test_keyless_records_are_dead_lettered_and_fail_the_run_but_not_the_watermark(
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
