"""The window sent is the window kept, against APIs that read bounds their own way (issue 27, A.2-A.4, D.11, F.15):
each run ends in the exact ids and the exact stored watermark."""

from __future__ import annotations

import pytest

from tests.pipeline.conftest import run_report
from tests.support import RUNNER_MODES, read_jsonl, runner_mode_args, stored_watermark, t

#: The sample API's `Faults.text_filter` expression, written with both bounds in its own text format.
TEXT_FILTER = (
    'updated_at >= "{window_start:%Y-%m-%d %H:%M:%S.%3fZ}" && updated_at < "{window_end:%Y-%m-%d %H:%M:%S.%3fZ}"'
)


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


@pytest.mark.parametrize("mode", RUNNER_MODES)
def test_date_bounds_and_runs_ending_mid_day_read_every_record_once(sample_api, write_config, tmp_path, mode):
    """A.3: 24 h windows sent as dates to an API that reads dates only, runs ending mid-day: each run ends at the
    last midnight, the next one starts there."""
    sample_api.set_faults(bound_precision="dates")
    path, config = write_config(api_config={"watermark": {"time_format": "date"}})
    run(tmp_path, path, "2024-01-03T14:00:00Z", *runner_mode_args(mode))
    assert stored_watermark(config) == t("2024-01-03")
    run(tmp_path, path, "2024-01-04T09:30:00Z", *runner_mode_args(mode))
    assert ids(tmp_path) == list(range(49, 145))
    assert stored_watermark(config) == t("2024-01-04")


def test_an_inclusive_end_reaches_the_last_microsecond_of_the_window(sample_api, write_config, tmp_path):
    """A.4: `end_inclusive` with iso8601 sends the end 1 µs early, not 1 s: a record in a window's last second
    is asked for."""
    sample_api.set_faults(inclusive_until=True)
    [last] = sample_api.dataset.add_records(1, t("2024-01-02T23:59:59.500"))
    path, config = write_config(api_config={"watermark": {"end_inclusive": True}})
    run(tmp_path, path, "2024-01-04T00:00:00Z")
    assert ids(tmp_path) == [*range(49, 145), last]
    assert stored_watermark(config) == t("2024-01-04")


@pytest.mark.parametrize("mode", RUNNER_MODES)
def test_an_exclusive_start_keeps_the_records_stamped_on_window_starts(sample_api, write_config, tmp_path, mode):
    """D.11: `since` means "after"; with `start_inclusive: false` the records at 00:00 of each day (ids 49, 97)
    are read."""
    sample_api.set_faults(exclusive_since=True)
    path, config = write_config(api_config={"watermark": {"start_inclusive": False}})
    run(tmp_path, path, "2024-01-04T00:00:00Z", *runner_mode_args(mode))
    assert ids(tmp_path) == list(range(49, 145))
    assert stored_watermark(config) == t("2024-01-04")


def test_a_one_expression_filter_in_the_api_s_text_format(sample_api, write_config, tmp_path):
    """F.15: the API compares `2024-01-05 00:00:00.000Z` as text in one `filter` parameter: a template writes both
    bounds in that format."""
    sample_api.set_faults(text_filter=True)
    watermark = {"watermark_field": None, "window_end_field": None, "window": {"window_size": "6h"}}
    endpoint = {"params": {"filter": TEXT_FILTER}}
    path, config = write_config(api_config={"watermark": watermark, "endpoints": {"items": endpoint}})
    run(tmp_path, path, "2024-01-03T00:00:00Z")
    assert ids(tmp_path) == list(range(49, 97))
    assert stored_watermark(config) == t("2024-01-03")
