"""Replaying a dead letter fetches exactly its failed windows again and processes its records again."""

from __future__ import annotations

import json

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from tests.support import read_jsonl, stored_watermark, t


def test_replaying_failed_windows_completes_the_data_and_moves_the_watermark(sample_api, write_config, tmp_path):
    sample_api.set_faults(fail_since=["2024-01-03T00:00:00Z", "2024-01-05T00:00:00Z"])
    path, config = write_config()
    assert main(["run", "--config", str(path), "--end_time", "2024-01-06"]) == 1
    assert stored_watermark(config) == t("2024-01-03")

    sample_api.set_faults(fail_since=[])
    sample_api.reset_stats()
    assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0

    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-06"))
    assert len(ids) == len(set(ids))
    assert sample_api.stats()["requests"] == 10  # two windows of 48 records, 10 per page: 5 pages each
    assert stored_watermark(config) == t("2024-01-06")


def test_a_replay_that_skips_an_earlier_failure_leaves_the_watermark(sample_api, write_config, tmp_path):
    sample_api.set_faults(fail_since=["2024-01-03T00:00:00Z", "2024-01-05T00:00:00Z"])
    path, config = write_config()
    assert main(["run", "--config", str(path), "--end_time", "2024-01-06"]) == 1
    later_only = [row for row in read_jsonl(tmp_path / "dead_letter") if row["window_start"] == "2024-01-05T00:00:00Z"]
    dead_file = tmp_path / "later_only.jsonl"
    dead_file.write_text("".join(json.dumps(row) + "\n" for row in later_only))

    sample_api.set_faults(fail_since=[])
    assert main(["replay", "--config", str(path), "--dead_letter", str(dead_file)]) == 0
    assert stored_watermark(config) == t("2024-01-03")


def test_replaying_records_after_fixing_the_config_writes_them(sample_api, write_config, tmp_path):
    path, _ = write_config(api_config={"watermark": {"timestamp_field": "modified_at"}})
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03"]) == 1
    assert read_jsonl(tmp_path / "out") == []
    dead = read_jsonl(tmp_path / "dead_letter")
    records = [d for d in dead if d["kind"] == "record"]
    assert len(records) == 48 and {d["error"] for d in records} == {"modified_at: not a timestamp: None"}
    # no record has a readable timestamp: the window fails too (issue 27), and its watermark stays
    [window] = [d for d in dead if d["kind"] == "window"]
    assert (window["error_type"], window["error"]) == (
        "TimestampUnreadable",
        "48 of 48 records the API returned are outside the window it was asked for or have no readable timestamp "
        "(more than watermark.max_outside_share 0.5): 48 have no readable timestamp; for example modified_at: not a "
        "timestamp: None",
    )
    assert stored_watermark(load_pipeline_config(path)) is None

    path, _ = write_config()  # timestamp_field: updated_at
    sample_api.reset_stats()
    assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0
    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert ids == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))  # each once
    assert sample_api.stats()["requests"] == 5  # the failed window, fetched again


def test_a_dead_letter_of_another_pipeline_is_refused(write_config, tmp_path, capsys):
    path, _ = write_config()
    other = tmp_path / "other.jsonl"
    other.write_text('{"kind":"window","pipeline_id":"else","endpoint":"items"}\n')
    assert main(["replay", "--config", str(path), "--dead_letter", str(other)]) == 2
    assert capsys.readouterr().err.strip() == (
        "--dead_letter: a row of else/items does not belong to pipeline sample_items"
    )
