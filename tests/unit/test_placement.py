"""The rule that fails a window whose time filter the API did not apply (`placement.filter_failure`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from beam_api_pipeline.config import PipelineConfig, load_pipeline_config
from beam_api_pipeline.config.watermark import WatermarkConfig
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask
from beam_api_pipeline.records.placement import Placement, astray_example, filter_failure, is_astray
from beam_api_pipeline.run.commit import endpoint_figures, with_figures
from tests.support import items_config, t, write_yaml

WINDOW = Window(t("2024-01-02"), t("2024-01-03"), overlap=timedelta(hours=1))
SENT = {"since": "2024-01-01T23:00:00Z", "until": "2024-01-03T00:00:00Z"}


@pytest.mark.parametrize(
    ("moment", "sends_end", "astray"),
    [
        ("2024-01-01T22:59:59Z", True, True),  # before the start sent (the window's start less its overlap)
        ("2024-01-01T23:00:00Z", True, False),  # in the overlap: asked for, kept by the window before
        ("2024-01-03T00:00:00Z", True, True),  # the end is exclusive
        ("2024-01-03T00:00:00Z", False, False),  # no end sent: the API may return later records
    ],
)
def test_a_record_is_astray_where_the_filter_sent_keeps_it_out(moment, sends_end, astray):
    assert is_astray(WINDOW, t(moment), WatermarkConfig(enabled=False), sends_end) is astray


@pytest.mark.parametrize(
    ("moment", "astray"),
    [
        ("2023-12-31T23:00:00Z", False),  # after the day sent for an exclusive start: asked for
        ("2023-12-30T23:59:59Z", True),  # before the day sent
    ],
)
def test_an_exclusive_start_is_sent_one_step_earlier_and_the_records_it_brings_are_not_astray(moment, astray):
    watermark = WatermarkConfig(enabled=False, time_format="date", start_inclusive=False)
    day = Window(t("2024-01-01"), t("2024-01-02"))
    assert is_astray(day, t(moment), watermark, True) is astray


def test_placements_add_up_and_keep_the_least_example_of_each_kind():
    first = Placement(10, 4, 1, 3, 0, "updated_at='2024-01-05T00:00:00Z' (read as 2024-01-05T00:00:00Z)")
    second = Placement(5, 5, 1, 6, 1, "updated_at='2024-01-01T00:00:00Z' (read as 2024-01-01T00:00:00Z)", "x: y")
    assert first + second + Placement() == Placement(15, 9, 2, 9, 1, second.outside_example, "x: y")
    assert Placement.from_element(first.to_element()) == first


def test_more_than_the_share_astray_fails_the_window_naming_the_parameters_and_a_record():
    example = astray_example("updated_at", "2023-12-30T10:00:00Z", t("2023-12-30T10:00:00Z"))
    assert filter_failure(Placement(10, 6, 0, 5, 0, example), 0.5, SENT) is None  # half is not more than half
    assert filter_failure(Placement(10, 6, 0, 6, 0, example), 0.5, SENT) == (
        "FilterNotApplied",
        "6 of 10 records the API returned are outside the window it was asked for or have no readable timestamp "
        "(more than watermark.max_outside_share 0.5): the API did not filter by since=2024-01-01T23:00:00Z, "
        "until=2024-01-03T00:00:00Z; for example updated_at='2023-12-30T10:00:00Z' (read as 2023-12-30T10:00:00Z)",
    )


def test_mostly_unreadable_timestamps_fail_the_window_naming_one():
    unreadable = "created: 1704153600 reads as 1970: epoch seconds where epoch_ms bounds are sent"
    assert filter_failure(Placement(4, 1, 3, 4, 3, "a", unreadable), 0.5, SENT) == (
        "TimestampUnreadable",
        "4 of 4 records the API returned are outside the window it was asked for or have no readable timestamp "
        f"(more than watermark.max_outside_share 0.5): 3 have no readable timestamp; for example {unreadable}",
    )


def test_no_records_or_a_share_of_one_never_fails():
    assert filter_failure(Placement(), 0.5, SENT) is None
    assert filter_failure(Placement(10, 10, 0, 10, 0, "x"), 1.0, SENT) is None


@pytest.mark.parametrize(("share", "problem"), [(1.5, "must be <= 1"), (-0.1, "must be >= 0")])
def test_max_outside_share_is_a_share(tmp_path, share, problem):
    config = items_config("http://127.0.0.1:1", tmp_path, api_config={"watermark": {"max_outside_share": share}})
    path = write_yaml(tmp_path / "pipeline.yaml", config)
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path)
    assert caught.value.problems == [f"{path}: api_config.watermark.max_outside_share: {problem}"]
    default = PipelineConfig.model_validate(items_config("http://127.0.0.1:1", tmp_path))
    assert default.api_config.watermark.max_outside_share == 0.5


def test_each_endpoint_gets_its_rows_written_records_outside_and_invalid_and_the_results_figures():
    day_1, day_2 = WindowTask("items", WINDOW), WindowTask("items", Window(t("2024-01-03"), t("2024-01-04")))
    placements = [
        (day_1.to_element(), Placement(10, 4, 1, 0).to_element()),
        (day_2.to_element(), Placement(5, 2, 0, 0).to_element()),
    ]
    figures = endpoint_figures(placements, [("items", 3), ("items", 2), ("events", 7)])
    assert figures == {
        "items": {"written": 5, "outside": 6, "invalid": 1},
        "events": {"written": 7, "outside": 0, "invalid": 0},
    }
    # the figures a WindowResult carries: the total announced, its parts' max per window, summed per endpoint;
    # the page size served, the largest of all
    results = [
        WindowResult(day_1, WindowStatus.DONE, 2, 20, end_page=2, announced_total=30, page_size=10),
        WindowResult(day_1, WindowStatus.DONE, 1, 10, first_page=2, end_page=3, announced_total=30, page_size=8),
        WindowResult(day_2, WindowStatus.DONE, 4, 40, end_page=4, announced_total=40, page_size=10),
    ]
    stats = {"items": {"pages": 7}, "events": {"pages": 0}, "orders": {"pages": 0}}
    assert with_figures(stats, figures, results) == {
        "items": {"pages": 7, "written": 5, "outside": 6, "invalid": 1, "announced_total": 70, "page_size": 10},
        "events": {"pages": 0, "written": 7, "outside": 0, "invalid": 0},
        "orders": {"pages": 0, "written": 0, "outside": 0, "invalid": 0},
    }
