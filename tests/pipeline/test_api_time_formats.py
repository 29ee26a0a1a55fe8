"""The window sent is the window kept across runs, against APIs that read bounds their own way (issue 27, A.2,
A.3): each run ends where the next one starts, in the exact ids and the exact stored watermark. Each bound
format on ReadFromApi alone, on every runner mode, is in tests/transforms/test_read_time_formats.py."""

from __future__ import annotations

from tests.pipeline.conftest import run_report
from tests.support import read_jsonl, stored_watermark, t


def run(tmp_path, path, end_time: str, *args: str) -> dict:
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", end_time, *args)
    assert code == 0, report["run"]["errors"]
    return report["run"]


def ids(tmp_path) -> list[int]:
    return sorted(row["id"] for row in read_jsonl(tmp_path / "out"))


def test_a_run_ending_within_a_second_leaves_that_second_to_the_next_run(sample_api, write_config, tmp_path):
    """A.2: bounds sent as epoch seconds, a run ending at a sub-second instant: the record stamped earlier in that
    second is read by the next run, not lost."""
    [late] = sample_api.dataset.add_records(1, t("2024-01-02T00:10:00.300"))
    path, config = write_config(api_config={"watermark": {"time_format": "epoch"}})
    run(tmp_path, path, "2024-01-02T00:10:00.619Z")
    assert stored_watermark(config) == t("2024-01-02T00:10")
    assert ids(tmp_path) == [49]

    run(tmp_path, path, "2024-01-02T01:00:00Z")
    assert ids(tmp_path) == [49, 50, late]
    assert stored_watermark(config) == t("2024-01-02T01:00")


def test_runs_ending_mid_day_with_date_bounds_leave_the_rest_of_the_day_to_the_next_run(
    sample_api, write_config, tmp_path
):
    """A.3: 24 h windows sent as dates to an API that reads dates only, runs ending mid-day: each run ends at the
    last midnight, the next one starts there, and every record is written once."""
    sample_api.set_faults(bound_precision="dates")
    path, config = write_config(api_config={"watermark": {"time_format": "date"}})
    run(tmp_path, path, "2024-01-03T14:00:00Z")
    assert stored_watermark(config) == t("2024-01-03")
    run(tmp_path, path, "2024-01-04T09:30:00Z")
    assert ids(tmp_path) == list(range(49, 145))
    assert stored_watermark(config) == t("2024-01-04")
