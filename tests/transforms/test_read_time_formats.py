"""The window sent is the window kept, against APIs that read bounds their own way (issue 27, A.3, A.4, D.11,
F.15): ReadFromApi alone (its records placed and de-duplicated by TransformRecords) against the sample API over
HTTP, the exact ids and the watermark a commit of its results stores. The run that ends within a second, and
runs ending mid-day, each followed by the next run, are whole runs in tests/pipeline/test_api_time_formats.py."""

from __future__ import annotations

import pytest

from tests.support import RUNNER_MODES, t
from tests.transform_runners import read_on
from tests.transform_support import Read, config

#: The sample API's `Faults.text_filter` expression, written with both bounds in its own text format.
TEXT_FILTER = (
    'updated_at >= "{window_start:%Y-%m-%d %H:%M:%S.%3fZ}" && updated_at < "{window_end:%Y-%m-%d %H:%M:%S.%3fZ}"'
)


@pytest.mark.parametrize("mode", RUNNER_MODES)
def test_date_bounds_read_to_the_last_midnight_and_on_from_there(sample_api, tmp_path, mode):
    """A.3: 24 h windows sent as dates to an API that reads dates only, reads ending mid-day: each ends at the
    last midnight, the next one starts there, and together they hold every record once."""
    sample_api.set_faults(bound_precision="dates")
    cfg = config(tmp_path, sample_api.url, api_config={"watermark": {"time_format": "date"}})
    first = read_on(mode, tmp_path / "first", cfg, "2024-01-02", "2024-01-03T14:00")
    assert first.watermarks == {"items": t("2024-01-03")}
    second = read_on(mode, tmp_path / "second", cfg, "2024-01-03", "2024-01-04T09:30")
    assert first.ids() + second.ids() == list(range(49, 145))
    assert second.watermarks == {"items": t("2024-01-04")}


def test_an_inclusive_end_reaches_the_last_microsecond_of_the_window(sample_api, tmp_path):
    """A.4: `end_inclusive` with iso8601 sends the end 1 µs early, not 1 s: a record in a window's last second
    is asked for."""
    sample_api.set_faults(inclusive_until=True)
    [last] = sample_api.dataset.add_records(1, t("2024-01-02T23:59:59.500"))
    cfg = config(tmp_path, sample_api.url, api_config={"watermark": {"end_inclusive": True}})
    read = Read(tmp_path, cfg, "2024-01-02", "2024-01-04")
    assert read.ids() == [*range(49, 145), last]
    assert read.watermarks == {"items": t("2024-01-04")}


@pytest.mark.parametrize("mode", RUNNER_MODES)
def test_an_exclusive_start_keeps_the_records_stamped_on_window_starts(sample_api, tmp_path, mode):
    """D.11: `since` means "after"; with `start_inclusive: false` the records at 00:00 of each day (ids 49, 97)
    are read."""
    sample_api.set_faults(exclusive_since=True)
    cfg = config(tmp_path, sample_api.url, api_config={"watermark": {"start_inclusive": False}})
    read = read_on(mode, tmp_path, cfg, "2024-01-02", "2024-01-04")
    assert read.ids() == list(range(49, 145))
    assert read.watermarks == {"items": t("2024-01-04")}


def test_a_one_expression_filter_in_the_api_s_text_format(sample_api, tmp_path):
    """F.15: the API compares `2024-01-05 00:00:00.000Z` as text in one `filter` parameter: a template writes both
    bounds in that format."""
    sample_api.set_faults(text_filter=True)
    watermark = {"watermark_field": None, "window_end_field": None, "window": {"window_size": "6h"}}
    endpoint = {"params": {"filter": TEXT_FILTER}}
    cfg = config(tmp_path, sample_api.url, api_config={"watermark": watermark, "endpoints": {"items": endpoint}})
    read = Read(tmp_path, cfg, "2024-01-02", "2024-01-03")
    assert read.ids() == list(range(49, 97))
    assert read.watermarks == {"items": t("2024-01-03")}
