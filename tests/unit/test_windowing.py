import itertools
from datetime import datetime, timedelta

import pytest

from beam_api_pipeline.windowing import Window, format_utc, plan_windows
from tests.support import t

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def bounds(windows: list[Window]) -> list[tuple[str, str]]:
    return [(format_utc(w.start), format_utc(w.end)) for w in windows]


def test_whole_days_are_cut_at_midnight():
    windows = plan_windows(t("2024-01-01"), t("2024-01-04"), DAY)
    assert bounds(windows) == [
        ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"),
        ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"),
    ]


def test_partial_first_and_last_windows():
    windows = plan_windows(t("2024-01-01T23:00"), t("2024-01-03T06:30"), DAY)
    assert bounds(windows) == [
        ("2024-01-01T23:00:00Z", "2024-01-02T00:00:00Z"),
        ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"),
        ("2024-01-03T00:00:00Z", "2024-01-03T06:30:00Z"),
    ]


def test_offset_aligns_window_starts():
    windows = plan_windows(t("2024-01-01"), t("2024-01-03"), DAY, offset=timedelta(hours=6))
    assert bounds(windows) == [
        ("2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z"),
        ("2024-01-01T06:00:00Z", "2024-01-02T06:00:00Z"),
        ("2024-01-02T06:00:00Z", "2024-01-03T00:00:00Z"),
    ]


@pytest.mark.parametrize("end", ["2024-01-01", "2023-12-31"])
def test_empty_or_reversed_range_has_no_windows(end):
    assert plan_windows(t("2024-01-01"), t(end), DAY) == []


def test_range_shorter_than_a_window_is_one_window():
    assert bounds(plan_windows(t("2024-01-01T10:00"), t("2024-01-01T11:00"), DAY)) == [
        ("2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z")
    ]


def test_overlap_widens_the_request_but_not_the_window():
    windows = plan_windows(t("2024-01-01"), t("2024-01-03"), DAY, overlap=HOUR)
    assert [format_utc(w.fetch_start) for w in windows] == ["2023-12-31T23:00:00Z", "2024-01-01T23:00:00Z"]
    second = windows[1]
    assert not second.contains(t("2024-01-01T23:30"))
    assert second.contains(t("2024-01-02T00:00"))
    assert not second.contains(t("2024-01-03T00:00"))


def test_hourly_windows_cover_the_range_without_gaps():
    start, end = t("2024-01-01T00:17"), t("2024-01-02T03:05")
    windows = plan_windows(start, end, HOUR)
    assert windows[0].start == start and windows[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert len(windows) == 28


def test_naive_bounds_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_windows(datetime(2024, 1, 1), datetime(2024, 1, 2), DAY)
