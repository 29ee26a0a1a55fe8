"""The window sent is the window kept (issue 27, A and D): each time format's grid, bounds floored to it, the
bounds each window sends (`start_inclusive`, `end_inclusive`), window templates, and the config rules about them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from apache_beam import pvalue

from beam_api_pipeline.config import PipelineConfig, load_pipeline_config
from beam_api_pipeline.config.api import ApiConfig
from beam_api_pipeline.control.watermarks import WatermarkHandler
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.timeformat import floor_to, format_bound, parse_timestamp, resolution
from beam_api_pipeline.core.window_bounds import parse_template
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors import GitHubExtractor, GraphqlExtractor, RestExtractor
from beam_api_pipeline.pagination import PagePosition
from beam_api_pipeline.plan.polls import _PlanPollFn
from beam_api_pipeline.plan.run_plan import PollSchedule, WindowTask
from beam_api_pipeline.records.transform import INVALID, _PlaceRecordsFn
from beam_api_pipeline.run.validate import config_problems
from tests.support import merged

US, MS, S, MIN, H, D = (
    timedelta(microseconds=1),
    timedelta(milliseconds=1),
    timedelta(seconds=1),
    timedelta(minutes=1),
    timedelta(hours=1),
    timedelta(days=1),
)
WINDOW = Window(datetime(2024, 1, 5, tzinfo=UTC), datetime(2024, 1, 6, tzinfo=UTC))
MOMENT = datetime(2024, 1, 5, 6, 7, 8, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time_format", "step"),
    [
        ("iso8601", US),
        ("epoch", S),
        ("epoch_ms", MS),
        ("date", D),
        ("%Y-%m-%dT%H:%M:%S.%fZ", US),
        ("%Y-%m-%d %H:%M:%S.%3fZ", MS),
        ("%Y-%m-%dT%H:%M:%S.%6f", US),
        ("%Y-%m-%dT%H:%M:%SZ", S),
        ("%Y-%m-%d %H:%M", MIN),
        ("%Y%m%d%H", H),
        ("%Y-%m-%d", D),
        ("%Y-%j", D),
        ("day %d at %H o'clock, %%S", H),
        ("%Y-%m", None),
        ("%%d %Y", None),
        ("%-m/%-d/%Y", D),
        ("%Y-%m-%dT%H:%M:%-S", S),
        ("%-d.%-m.%Y %-H h", H),
        ("%_d %^b %Y", D),
        ("%F %r", S),
        ("%x %l %p", H),
        ("%D %T", S),
        ("%F %R", MIN),
        ("%c", S),
        ("%X %D", S),
        ("%%-d %Y", None),
    ],
)
def test_a_format_s_resolution_is_its_finest_directive(time_format, step):
    assert resolution(time_format) == step


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (US, MOMENT),
        (MS, datetime(2024, 1, 5, 6, 7, 8, 123000, tzinfo=UTC)),
        (S, datetime(2024, 1, 5, 6, 7, 8, tzinfo=UTC)),
        (H, datetime(2024, 1, 5, 6, tzinfo=UTC)),
        (D, datetime(2024, 1, 5, tzinfo=UTC)),
    ],
)
def test_floor_to_takes_the_grid_point_at_or_before(step, expected):
    assert floor_to(MOMENT, step) == expected
    assert floor_to(expected, step) == expected


def test_milliseconds_and_literal_text_are_written_and_read_back():
    time_format = "at %Y-%m-%d %H:%M:%S.%3fZ (UTC)"
    assert format_bound(MOMENT, time_format) == "at 2024-01-05 06:07:08.123Z (UTC)"
    assert parse_timestamp("at 2024-01-05 06:07:08.123Z (UTC)", time_format) == MOMENT.replace(microsecond=123000)
    assert format_bound(MOMENT, "epoch_ms") == 1704434828123
    assert format_bound(datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), "epoch") == -1


@pytest.mark.parametrize(
    ("value", "time_format", "message"),
    [
        (
            1704434828,
            "epoch_ms",
            "timestamp 1704434828 is epoch seconds, not milliseconds: time_format is epoch_ms "
            "(it would read as 1970-01-20T17:27:14.828000Z)",
        ),
        (
            "1704434828",
            "epoch_ms",
            "timestamp 1704434828.0 is epoch seconds, not milliseconds: time_format is epoch_ms "
            "(it would read as 1970-01-20T17:27:14.828000Z)",
        ),
        (1704434828123, "epoch", "timestamp 1704434828123 is epoch milliseconds, not seconds: time_format is epoch"),
        (
            1704434828123,
            "iso8601",
            "timestamp 1704434828123 is epoch milliseconds, not seconds: time_format is iso8601",
        ),
    ],
)
def test_a_timestamp_in_the_other_epoch_unit_is_an_error_naming_the_unit(value, time_format, message):
    with pytest.raises(ValueError) as caught:
        parse_timestamp(value, time_format)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("time_format", "written"),
    [
        ("%-m/%-d/%Y %-H:%-M:%-S", "1/5/2024 6:7:8"),
        ("%F %T", "2024-01-05 06:07:08"),
        ("%D %r", "01/05/24 06:07:08 AM"),
        ("%e %^b %Y %k:%M:%S", " 5 JAN 2024  6:07:08"),
        ("%%-d %Y-%m-%dT%H:%M:%S", "%-d 2024-01-05T06:07:08"),
    ],
)
def test_glibc_flags_and_composite_directives_are_written_and_read_back(time_format, written):
    assert format_bound(MOMENT, time_format) == written
    assert parse_timestamp(written, time_format) == MOMENT.replace(microsecond=0)


def test_an_unpadded_second_steps_an_inclusive_end_back_by_a_second_not_a_minute():
    sent = params(config(end_inclusive=True, time_format="%Y-%m-%dT%H:%M:%-S"))
    assert (sent["since"], sent["until"]) == ("2024-01-05T00:00:0", "2024-01-05T23:59:59")


def test_epoch_seconds_in_a_pattern_are_utc_whatever_the_machine_s_zone(monkeypatch):
    """`%s` in C's strftime reads the moment as local time: under New York every window would move by 5 h."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert format_bound(MOMENT, "%s") == "1704434828"
        assert format_bound(MOMENT, "t=%s.%3f %%s") == "t=1704434828.123 %s"
        assert format_bound(datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), "%s") == "-1"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_plausible_epoch_timestamps_read_as_before():
    assert parse_timestamp(1704434828123, "epoch_ms") == MOMENT.replace(microsecond=123000)
    assert parse_timestamp(1704434828, "epoch") == MOMENT.replace(microsecond=0)


def handler(grid: timedelta, **watermark: Any) -> WatermarkHandler:
    return WatermarkHandler(config(**watermark).api_config.watermark, None, "unit", grid)


def test_run_bounds_fall_on_the_grid_so_the_last_second_is_left_to_the_next_run():
    """A.2: a run ending at `now` with microseconds, sent as epoch seconds, ends at the whole second."""
    now = datetime(2024, 1, 5, 11, 36, 35, 619000, tzinfo=UTC)
    assert handler(S).run_bounds(None, now=now) == (datetime(2024, 1, 1, tzinfo=UTC), now.replace(microsecond=0))
    assert handler(D).run_bounds(
        datetime(2024, 1, 3, tzinfo=UTC), start_time=datetime(2024, 1, 2, 9, tzinfo=UTC), now=now
    ) == (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 5, tzinfo=UTC))


def test_a_poll_s_bounds_fall_on_the_grid_computed_once_for_the_run(monkeypatch):
    """A poll floors its start and end as a run does (`WatermarkHandler.on_grid`); the grid is the run's, never
    computed again per endpoint per poll."""
    epoch = config(time_format="epoch", window={"window_size": "1h"})
    schedule = PollSchedule(datetime(2024, 1, 1, 3, tzinfo=UTC), timedelta(minutes=1), timedelta(seconds=30))
    plan_poll = _PlanPollFn(epoch, "r1", schedule)
    monkeypatch.setattr(ApiConfig, "window_grid", lambda self: pytest.fail("the grid is computed again"))
    polls: dict[str, dict[str, str]] = {}
    stored = datetime(2024, 1, 1, 1, 0, 0, 250000, tzinfo=UTC)
    tasks = plan_poll._tasks("things", stored, None, datetime(2024, 1, 1, 3, 0, 10, 700000, tzinfo=UTC), polls)
    assert [task.window for task in tasks] == [
        Window(datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 2, tzinfo=UTC)),
        Window(datetime(2024, 1, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, 2, 59, 40, tzinfo=UTC)),
    ]
    assert polls == {"things": {"start": "2024-01-01T01:00:00+00:00", "end": "2024-01-01T02:59:40+00:00"}}


def test_a_day_grid_never_plans_a_window_of_less_than_a_day():
    """A.3: 24 h windows sent as dates, a run ending mid-day: the last window ends at midnight, never [day, day)."""
    now = datetime(2024, 1, 3, 14, tzinfo=UTC)
    assert handler(D).plan(None, now=now) == [
        Window(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)),
        Window(datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)),
    ]


def config(extractor: str = "rest", endpoint: dict | None = None, **watermark: Any) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "pipeline_id": "unit",
            "extractor_class": extractor,
            "api_config": {
                "base_url": "https://api.example.com",
                "endpoints": {"things": endpoint or {"path": "/things"}},
                "pagination": {"strategy": "offset", "page_size": 5},
                "watermark": {
                    "enabled": True,
                    "watermark_field": "since",
                    "window_end_field": "until",
                    "initial_watermark": "2024-01-01T00:00:00Z",
                    **watermark,
                },
            },
        }
    )


def params(pipeline: PipelineConfig, extractor=RestExtractor, window: Window = WINDOW) -> dict[str, Any]:
    return extractor(pipeline, "things").build_request(window, PagePosition(0, 0)).params


def test_an_inclusive_end_steps_back_by_the_format_s_own_resolution():
    """A.4: iso8601 writes microseconds, so its inclusive end is 1 µs before the window's end, not 1 s."""
    assert params(config(end_inclusive=True)) == {
        "since": "2024-01-05T00:00:00Z",
        "until": "2024-01-05T23:59:59.999999Z",
        "offset": 0,
        "limit": 5,
    }
    dates = params(config(end_inclusive=True, time_format="date"))
    assert (dates["since"], dates["until"]) == ("2024-01-05", "2024-01-05")
    epoch = params(config(end_inclusive=True, time_format="epoch_ms"))
    assert (epoch["since"], epoch["until"]) == (1704412800000, 1704499199999)


def test_an_exclusive_start_is_sent_one_step_earlier():
    """D.11: `since` means "after": the start sent is one step of the format before the window's start."""
    for time_format, since in [
        ("iso8601", "2024-01-04T23:59:59.999999Z"),
        ("epoch", 1704412799),
        ("date", "2024-01-04"),
    ]:
        sent = params(config(start_inclusive=False, time_format=time_format))
        assert sent["since"] == since
    overlapped = Window(WINDOW.start, WINDOW.end, timedelta(hours=1))
    assert params(config(start_inclusive=False, time_format="epoch"), window=overlapped)["since"] == 1704409199


FILTER = 'changed_at >= "{window_start:%Y-%m-%d %H:%M:%S.%3fZ}" && changed_at < "{window_end:%Y-%m-%d %H:%M:%S.%3fZ}"'


def test_a_template_writes_both_bounds_into_one_parameter():
    assert params(template_config({"filter": FILTER, "sort": "id"})) == {
        "filter": 'changed_at >= "2024-01-05 00:00:00.000Z" && changed_at < "2024-01-06 00:00:00.000Z"',
        "sort": "id",
        "offset": 0,
        "limit": 5,
    }


def template_config(value: Any, where: str = "params", **watermark: Any) -> PipelineConfig:
    endpoint = {"path": "/things", where: value}
    return config(endpoint=endpoint, watermark_field=None, window_end_field=None, **watermark)


def test_a_whole_value_placeholder_is_the_bound_itself_and_braces_are_escaped():
    body = {"range": {"gte": "{window_start:epoch_ms}", "lt": "{window_end:epoch}"}, "q": "{{x}} {window_start}"}
    pipeline = template_config(body, "body", start_inclusive=False)
    request = RestExtractor(pipeline, "things").build_request(WINDOW, PagePosition(0, 0))
    assert request.json_body == {
        "range": {"gte": 1704412799999, "lt": 1704499200},
        "q": "{x} 2024-01-04T23:59:59.999999Z",
    }


def test_graphql_variables_hold_templates_too():
    pipeline = config(
        "graphql",
        endpoint={"path": "/graphql", "query": "{ e }", "variables": {"where": "t >= {window_start:date}"}},
        watermark_field=None,
        window_end_field=None,
    )
    request = GraphqlExtractor(pipeline, "things").build_request(WINDOW, PagePosition(0, 0))
    assert request.json_body["variables"] == {"where": "t >= 2024-01-05", "limit": 5, "offset": 0}


def test_a_template_s_grid_is_its_coarsest_format_and_the_coarsest_bound_sets_the_run_s_grid():
    assert parse_template("{window_start:date} {window_end:%Y-%m-%d %H}").grid("iso8601") == D
    assert parse_template("{window_start}").grid("epoch") == S
    assert template_config({"f": "{window_start:%Y-%m-%dT%H:%M}"}, time_format="epoch_ms").api_config.window_grid() == (
        MIN,
        "the template of endpoints.things.params.f",
    )
    assert config(time_format="date").api_config.window_grid() == (D, "watermark.time_format 'date'")


MINIMAL: dict[str, Any] = {
    "pipeline_id": "acme",
    "api_config": {
        "base_url": "https://api.example.com",
        "endpoints": {"issues": {"path": "/issues"}},
        "watermark": {
            "enabled": True,
            "initial_watermark": "2024-01-01T00:00:00Z",
            "watermark_field": "since",
            "window_end_field": "until",
        },
    },
}


def problems(tmp_path: Path, patch: dict[str, Any]) -> list[str]:
    path = tmp_path / "pipe.yaml"
    path.write_text(yaml.safe_dump(merged(MINIMAL, patch)))
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path)
    return [line.removeprefix(f"{path}: ") for line in caught.value.problems]


def watermark(**keys: Any) -> dict[str, Any]:
    return {"api_config": {"watermark": keys}}


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        pytest.param(
            watermark(time_format="date", window={"window_size": "6h"}),
            "api_config.watermark.window.window_size: 6h is not a whole number of 1d, the grid of "
            "watermark.time_format 'date' (the coarsest format a bound is sent in): "
            "the window sent would not be the window kept",
            id="A.3-date-6h",
        ),
        pytest.param(
            watermark(time_format="epoch", lookback_window="1.5s"),
            "api_config.watermark.lookback_window: 1.5s is not a whole number of 1s, the grid of "
            "watermark.time_format 'epoch' (the coarsest format a bound is sent in): "
            "the window sent would not be the window kept",
            id="lookback",
        ),
        pytest.param(
            watermark(time_format="%Y-%m-%d %H", window={"window_size": "1h", "window_overlap": "30m"}),
            "api_config.watermark.window.window_overlap: 30m is not a whole number of 1h, the grid of "
            "watermark.time_format '%Y-%m-%d %H' (the coarsest format a bound is sent in): "
            "the window sent would not be the window kept",
            id="overlap",
        ),
        pytest.param(
            {
                "api_config": {
                    "endpoints": {"issues": {"params": {"q": "updated>={window_start:date}"}}},
                    "watermark": {"watermark_field": None, "window_end_field": None, "window": {"window_size": "1h"}},
                }
            },
            "api_config.watermark.window.window_size: 1h is not a whole number of 1d, the grid of the template "
            "of endpoints.issues.params.q (the coarsest format a bound is sent in): "
            "the window sent would not be the window kept",
            id="template-grid",
        ),
        pytest.param(
            {
                "api_config": {
                    "endpoints": {
                        "issues": {
                            "params": {
                                "filter": 't >= "{window_start:%Y-%m-%dT%H:%M:%S}" && t < "{window_end:%Y-%m-%d}"'
                            }
                        }
                    },
                    "watermark": {"watermark_field": None, "window_end_field": None, "window": {"window_size": "1h"}},
                }
            },
            "api_config.watermark.window.window_size: 1h is not a whole number of 1d, the grid of the template "
            "of endpoints.issues.params.filter (the coarsest format a bound is sent in): the window sent would not "
            "be the window kept",
            id="template-grid-coarsest-placeholder",
        ),
        pytest.param(
            watermark(time_format="%Y-%m"),
            "api_config.watermark.time_format: '%Y-%m' writes no day: use one of iso8601, epoch, epoch_ms, date or a "
            "strftime pattern with at least a day (%d, %j), and %H, %M, %S, %3f (ms) or %f (µs) for finer times",
            id="no-day",
        ),
        pytest.param(
            watermark(watermark_field="filter", window_end_field="filter"),
            "api_config.watermark.window_end_field: is watermark_field too ('filter'): the end would overwrite the "
            "start; put both bounds in one parameter with a template ({window_start} ... {window_end}) instead",
            id="F.14",
        ),
        pytest.param(
            {"api_config": {"endpoints": {"issues": {"params": {"since": "2020-01-01"}}}}},
            "api_config.endpoints.issues.params.since: is watermark.watermark_field too: the window bound would "
            "overwrite it",
            id="bound-and-fixed-param",
        ),
        pytest.param(
            watermark(window_end_field="page"),
            "api_config.watermark.window_end_field: 'page' is pagination.page_param too: the page position would "
            "overwrite the window bound",
            id="bound-and-paging-param",
        ),
        pytest.param(
            {"api_config": {"endpoints": {"issues": {"params": {"filter": "t > {window_begin:%Y}"}}}}},
            "api_config.endpoints.issues.params.filter: unknown placeholder {window_begin:%Y}: use {window_start} or "
            "{window_end}, each with an optional :format (iso8601, epoch, epoch_ms, date or a strftime pattern)",
            id="unknown-placeholder",
        ),
        pytest.param(
            {"api_config": {"endpoints": {"issues": {"params": {"filter": "{window_start:%Y-%m}"}}}}},
            "api_config.endpoints.issues.params.filter: {window_start:%Y-%m}: '%Y-%m' writes no day: use one of "
            "iso8601, epoch, epoch_ms, date or a strftime pattern with at least a day (%d, %j), and %H, %M, %S, %3f "
            "(ms) or %f (µs) for finer times",
            id="template-format",
        ),
        pytest.param(
            {"api_config": {"endpoints": {"issues": {"body": {"q": {"a": ["{window_end} }"]}}}}}},
            "api_config.endpoints.issues.body.q.a.0: a lone '}' at character 14: write }} for a literal brace",
            id="lone-brace",
        ),
        pytest.param(
            {
                "api_config": {
                    "endpoints": {
                        "comments": {"path": "/c/{parent.id}", "parent": "issues", "params": {"t": "{window_end}"}}
                    }
                }
            },
            "api_config.endpoints.comments.params.t: a child endpoint reads all of each parent's records: it takes no "
            "window bounds",
            id="child-template",
        ),
    ],
)
def test_validate_refuses_bounds_the_api_cannot_be_sent(tmp_path, patch, expected):
    assert problems(tmp_path, patch) == [expected]


def test_an_endpoint_without_bounds_or_a_client_filter_is_refused_by_its_extractor():
    unfiltered = config(watermark_field=None, window_end_field=None)
    assert RestExtractor.request_problems(unfiltered) == [
        "api_config.endpoints.things: sends no window bounds: set watermark.watermark_field (and window_end_field), "
        "put {window_start} and {window_end} in a params value, or set watermark.filter: client for an API without "
        "a time filter"
    ]
    client = config(watermark_field=None, window_end_field=None, filter="client")
    assert RestExtractor.request_problems(client) == []
    assert RestExtractor.request_problems(template_config({"f": "{window_start}"})) == []


def test_github_refuses_a_page_size_above_its_cap():
    big = config(
        "github",
        endpoint={"path": "/issues", "pagination": {"strategy": "link_header", "page_size": 500}},
        window_end_field=None,
    )
    assert GitHubExtractor.request_problems(big) == [
        "api_config.endpoints.things.pagination.page_size: 500 is above GitHub's cap of 100 records a page"
    ]


def test_github_refuses_an_end_bound_it_cannot_send_and_an_endpoint_without_since():
    """GitHub sends `since` only: a `window_end_field` would count records after the window's end as astray."""
    assert GitHubExtractor.request_problems(config("github")) == [
        "api_config.watermark.window_end_field: GitHub's list endpoints take no end bound ('until' would not "
        "bound the window): leave it out"
    ]
    assert GitHubExtractor.request_problems(config("github", watermark_field=None, window_end_field=None)) == [
        "api_config.endpoints.things: sends no window bounds: set watermark.watermark_field (and window_end_field), "
        "put {window_start} and {window_end} in a params value, or set watermark.filter: client for an API without "
        "a time filter"
    ]
    assert GitHubExtractor.request_problems(config("github", window_end_field=None)) == []


def test_a_record_in_the_other_epoch_unit_is_an_invalid_record_with_the_reason_not_outside():
    """A.5: epoch_ms bounds, a record stamped in epoch seconds: dead-lettered with the unit named."""
    task = WindowTask("things", WINDOW).to_element()
    seconds, millis = {"id": 1, "updated_at": 1704434828}, {"id": 2, "updated_at": 1704434828123}
    out = list(_PlaceRecordsFn(config(time_format="epoch_ms")).process((task, [seconds, millis])))
    invalid = [o.value for o in out if isinstance(o, pvalue.TaggedOutput) and o.tag == INVALID]
    assert invalid == [
        (
            task,
            seconds,
            "updated_at: timestamp 1704434828 is epoch seconds, not milliseconds: time_format is epoch_ms "
            "(it would read as 1970-01-20T17:27:14.828000Z)",
        )
    ]
    assert [o for o in out if not isinstance(o, pvalue.TaggedOutput)] == [(task, [millis])]


def test_validate_reports_what_the_extractor_s_requests_cannot_carry_out():
    assert config_problems(config(watermark_field=None, window_end_field=None), "pipe.yaml") == [
        "pipe.yaml: api_config.endpoints.things: sends no window bounds: set watermark.watermark_field (and "
        "window_end_field), put {window_start} and {window_end} in a params value, or set watermark.filter: client "
        "for an API without a time filter"
    ]
