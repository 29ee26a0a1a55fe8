import itertools
from datetime import datetime, timedelta

import pytest

from beam_api_pipeline.config import PipelineConfig, WindowConfig
from beam_api_pipeline.control.watermarks import WatermarkHandler
from beam_api_pipeline.core.windowing import Window, format_utc, plan_windows
from beam_api_pipeline.extractors import RestExtractor
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


def fetch_bounds(windows: list[Window]) -> list[tuple[str, str, str]]:
    return [(format_utc(w.fetch_start), format_utc(w.start), format_utc(w.end)) for w in windows]


def test_sliding_windows_are_cut_every_slide_and_each_requests_the_window_size():
    sliding = WindowConfig(window_type="sliding", window_size="6h", window_slide="2h")
    windows = sliding.plan(t("2024-01-02"), t("2024-01-02T08:00"))
    assert fetch_bounds(windows) == [
        ("2024-01-01T20:00:00Z", "2024-01-02T00:00:00Z", "2024-01-02T02:00:00Z"),
        ("2024-01-01T22:00:00Z", "2024-01-02T02:00:00Z", "2024-01-02T04:00:00Z"),
        ("2024-01-02T00:00:00Z", "2024-01-02T04:00:00Z", "2024-01-02T06:00:00Z"),
        ("2024-01-02T02:00:00Z", "2024-01-02T06:00:00Z", "2024-01-02T08:00:00Z"),
    ]
    assert all(w.overlap == 4 * HOUR for w in windows)


def test_sliding_windows_add_the_overlap_follow_the_offset_and_keep_partial_windows():
    sliding = WindowConfig(
        window_type="sliding", window_size="6h", window_slide="2h", window_offset="1h", window_overlap="30m"
    )
    windows = sliding.plan(t("2024-01-02T01:00"), t("2024-01-02T07:30"))
    assert fetch_bounds(windows) == [
        ("2024-01-01T20:30:00Z", "2024-01-02T01:00:00Z", "2024-01-02T03:00:00Z"),
        ("2024-01-01T22:30:00Z", "2024-01-02T03:00:00Z", "2024-01-02T05:00:00Z"),
        ("2024-01-02T00:30:00Z", "2024-01-02T05:00:00Z", "2024-01-02T07:00:00Z"),
        ("2024-01-02T02:30:00Z", "2024-01-02T07:00:00Z", "2024-01-02T07:30:00Z"),
    ]
    placed = [w for w in windows if w.contains(t("2024-01-02T04:59"))]
    assert bounds(placed) == [("2024-01-02T03:00:00Z", "2024-01-02T05:00:00Z")]


def test_a_slide_as_long_as_the_window_plans_fixed_windows():
    sliding = WindowConfig(window_type="sliding", window_size="1d", window_slide="1d")
    assert sliding.plan(t("2024-01-01"), t("2024-01-03")) == plan_windows(t("2024-01-01"), t("2024-01-03"), DAY)
    assert sliding.request_overlap() == timedelta(0)


SLIDING = {
    "enabled": True,
    "watermark_field": "since",
    "window_end_field": "until",
    "initial_watermark": "2024-01-02T00:00:00Z",
    "window": {"window_type": "sliding", "window_size": "6h", "window_slide": "2h", "window_overlap": "30m"},
}


def sliding_config() -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "pipeline_id": "unit",
            "api_config": {
                "base_url": "https://api.example.com",
                "endpoints": {"items": {"path": "/items"}},
                "watermark": SLIDING,
            },
        }
    )


def test_a_sliding_config_plans_slides_whose_requests_reach_back_the_window_size_and_the_overlap():
    config = sliding_config()
    handler = WatermarkHandler(config.api_config.watermark, None, config.pipeline_id)
    windows = handler.plan(None, start_time=t("2024-01-02"), end_time=t("2024-01-02T06:00"))
    extractor = RestExtractor(config, "items")
    assert [extractor.window_params(w) for w in windows] == [
        {"since": "2024-01-01T19:30:00Z", "until": "2024-01-02T02:00:00Z"},
        {"since": "2024-01-01T21:30:00Z", "until": "2024-01-02T04:00:00Z"},
        {"since": "2024-01-01T23:30:00Z", "until": "2024-01-02T06:00:00Z"},
    ]
    assert bounds(windows) == [
        ("2024-01-02T00:00:00Z", "2024-01-02T02:00:00Z"),
        ("2024-01-02T02:00:00Z", "2024-01-02T04:00:00Z"),
        ("2024-01-02T04:00:00Z", "2024-01-02T06:00:00Z"),
    ]
