from datetime import UTC, datetime

import pytest

from beam_api_pipeline.core.timeformat import NAMED_FORMATS, format_bound, parse_timestamp

MOMENT = datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time_format", "expected"),
    [
        ("iso8601", "2024-03-05T06:07:08Z"),
        ("epoch", 1709618828),
        ("epoch_ms", 1709618828000),
        ("date", "2024-03-05"),
        ("%Y/%m/%d %H:%M", "2024/03/05 06:07"),
    ],
)
def test_bounds_are_formatted_as_configured(time_format, expected):
    assert format_bound(MOMENT, time_format) == expected


@pytest.mark.parametrize(
    ("value", "time_format"),
    [
        ("2024-03-05T06:07:08Z", "iso8601"),
        ("2024-03-05T07:07:08+01:00", "iso8601"),
        ("2024-03-05T06:07:08", "iso8601"),
        (1709618828, "iso8601"),
        ("1709618828", "epoch"),
        (1709618828000, "epoch_ms"),
        ("2024/03/05 06:07:08", "%Y/%m/%d %H:%M:%S"),
    ],
)
def test_timestamps_are_read_in_every_form(value, time_format):
    assert parse_timestamp(value, time_format) == MOMENT


@pytest.mark.parametrize("value", [None, "", "yesterday", True, {"a": 1}])
def test_unreadable_timestamps_raise_naming_the_value(value):
    with pytest.raises(ValueError, match="timestamp"):
        parse_timestamp(value)


def test_the_named_formats_are_these_and_each_reads_back_what_it_writes():
    assert NAMED_FORMATS == ("iso8601", "epoch", "epoch_ms", "date")
    for time_format in NAMED_FORMATS:
        expected = MOMENT.replace(hour=0, minute=0, second=0) if time_format == "date" else MOMENT
        assert parse_timestamp(format_bound(MOMENT, time_format), time_format) == expected
