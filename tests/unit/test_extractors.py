"""Extractors without a network: requests they build, guards, GraphQL errors, GitHub and weather shaping, registry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from beam_api_pipeline.client.api_client import ApiResponse
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.errors import ApiError, ConfigError, PaginationError
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors import GitHubExtractor, GraphqlExtractor, RestExtractor, WeatherExtractor
from beam_api_pipeline.extractors.registry import load_extractor_class
from beam_api_pipeline.extractors.weather import hourly_rows
from beam_api_pipeline.pagination import PagePosition

WINDOW = Window(datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))


def config(extractor="rest", endpoint=None, pagination=None, watermark=None) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "pipeline_id": "unit",
            "extractor_class": extractor,
            "api_config": {
                "base_url": "https://api.example.com/v1",
                "endpoints": {"things": endpoint or {"path": "/things", "params": {"state": "all"}}},
                "pagination": pagination or {"strategy": "next_url", "next_url_path": "next", "page_size": 5},
                "watermark": watermark
                or {
                    "enabled": True,
                    "watermark_field": "since",
                    "window_end_field": "until",
                    "initial_watermark": "2024-01-01T00:00:00Z",
                },
            },
        }
    )


def test_the_first_page_gets_every_parameter():
    request = RestExtractor(config(), "things").build_request(WINDOW, PagePosition(0))
    assert (request.method, request.url) == ("GET", "https://api.example.com/v1/things")
    assert request.params == {
        "state": "all",
        "since": "2024-01-02T00:00:00Z",
        "until": "2024-01-03T00:00:00Z",
        "limit": 5,
    }


def test_a_next_url_is_requested_as_given_without_its_parameters_added_again():
    url = "https://api.example.com/v1/things?since=2024-01-02T00%3A00%3A00Z&limit=5&page_token=abc"
    request = RestExtractor(config(), "things").build_request(WINDOW, PagePosition(1, url))
    assert request.url == url
    assert request.params == {"state": "all", "until": "2024-01-03T00:00:00Z"}  # only what the URL lacks


def test_the_host_guard_names_window_page_and_host_and_redacts_the_url():
    extractor = RestExtractor(config(), "things")
    foreign = PagePosition(2, "https://evil.example.net:8443/steal?access_token=s3cr3t&page=3")
    with pytest.raises(PaginationError) as raised:
        extractor.fetch_page(None, WINDOW, foreign)
    assert str(raised.value) == (
        "things window 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z page 3: the URL "
        "https://evil.example.net:8443/steal?access_token=***&page=3 is on https://evil.example.net:8443, not on "
        "base_url's https://api.example.com:443; it is not followed, so that credentials are never sent to "
        "another host"
    )


@pytest.mark.parametrize("url", ["http://api.example.com/v1/things?p=2", "https://api.example.com:444/v1/things?p=2"])
def test_a_change_of_scheme_or_port_is_another_host(url):
    with pytest.raises(PaginationError, match="not followed"):
        RestExtractor(config(), "things").fetch_page(None, WINDOW, PagePosition(1, url))


def test_the_loop_guard_stops_before_sending_a_repeated_token():
    position = PagePosition(0).advance("https://api.example.com/v1/things?t=a").advance("https://api.example.com/v1/x")
    looped = position.advance("https://api.example.com/v1/things?t=a")
    with pytest.raises(PaginationError) as raised:
        RestExtractor(config(), "things").fetch_page(None, WINDOW, looped)
    assert str(raised.value) == (
        "things window 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z page 4: the API gave the next URL of page 2 "
        "again; the walk is stopped as a loop"
    )


GRAPHQL_ENDPOINT = {
    "path": "/graphql",
    "method": "POST",
    "query": "query($since: DateTime, $after: String) { events { nodes { id } } }",
    "variables": {"first": 50, "org": "acme"},
    "records_path": "data.events.nodes",
}
GRAPHQL_PAGES = {"strategy": "graphql", "page_info_path": "data.events.pageInfo", "cursor_param": "after"}


def test_graphql_posts_query_and_variables_with_window_and_cursor():
    extractor = GraphqlExtractor(config("graphql", GRAPHQL_ENDPOINT, GRAPHQL_PAGES), "things")
    request = extractor.build_request(WINDOW, PagePosition(1, "c1"))
    assert (request.method, request.url, request.params) == ("POST", "https://api.example.com/v1/graphql", {})
    assert request.json_body == {
        "query": GRAPHQL_ENDPOINT["query"],
        "variables": {
            "first": 50,
            "org": "acme",
            "since": "2024-01-02T00:00:00Z",
            "until": "2024-01-03T00:00:00Z",
            "after": "c1",
        },
    }


def test_a_graphql_errors_array_is_an_error_with_the_api_messages():
    extractor = GraphqlExtractor(config("graphql", GRAPHQL_ENDPOINT, GRAPHQL_PAGES), "things")
    body = {"data": None, "errors": [{"message": "invalid cursor", "path": ["events"]}, {"message": "slow down"}]}
    with pytest.raises(ApiError) as raised:
        extractor.read_page(ApiResponse(200, {}, body, "u"))
    assert str(raised.value) == "things: the GraphQL API answered with errors: events: invalid cursor; slow down"
    page = extractor.read_page(ApiResponse(200, {}, {"data": {"events": {"nodes": []}}}, "u"))
    assert page.records == []


def test_github_sends_its_headers_and_since_only():
    since_only = {"enabled": True, "watermark_field": "since", "initial_watermark": "2024-01-01T00:00:00Z"}
    github = config("github", pagination={"strategy": "link_header", "page_size": 100}, watermark=since_only)
    extractor = GitHubExtractor(github, "things")
    request = extractor.build_request(WINDOW, PagePosition(0))
    assert request.params == {"state": "all", "since": "2024-01-02T00:00:00Z", "per_page": 100}
    assert request.headers == {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    assert list(extractor._transform_item({"number": 1, "pull_request": {}})) == [
        {"number": 1, "pull_request": {}, "is_pull_request": True}
    ]


def test_weather_rows_are_one_per_hour_in_utc():
    answer = {
        "latitude": 52.52,
        "longitude": 13.42,
        "utc_offset_seconds": 3600,
        "hourly": {"time": ["2024-01-01T00:00", "2024-01-01T01:00"], "temperature_2m": [1.5, 2.0]},
    }
    assert list(hourly_rows(answer)) == [
        {"time": "2023-12-31T23:00:00Z", "latitude": 52.52, "longitude": 13.42, "temperature_2m": 1.5},
        {"time": "2024-01-01T00:00:00Z", "latitude": 52.52, "longitude": 13.42, "temperature_2m": 2.0},
    ]


def test_weather_sends_inclusive_dates_and_never_pages():
    watermark = {
        "enabled": True,
        "watermark_field": "start_date",
        "window_end_field": "end_date",
        "end_inclusive": True,
        "time_format": "date",
        "initial_watermark": "2024-01-01",
    }
    endpoint = {"path": "/v1/archive", "params": {"latitude": 52.52, "longitude": 13.41, "hourly": "temperature_2m"}}
    extractor = WeatherExtractor(config("weather", endpoint, watermark=watermark), "things")
    request = extractor.build_request(WINDOW, extractor.pagination.first_position())
    assert request.params == {
        "latitude": 52.52,
        "longitude": 13.41,
        "hourly": "temperature_2m",
        "start_date": "2024-01-02",
        "end_date": "2024-01-02",
    }
    page = extractor.read_page(ApiResponse(200, {}, {"hourly": {"time": []}}, "u"))
    assert extractor.pagination.next_position(PagePosition(0), page) is None


def test_the_registry_knows_the_built_ins_and_loads_user_classes():
    assert load_extractor_class("github") is GitHubExtractor
    assert load_extractor_class("beam_api_pipeline.extractors.weather:WeatherExtractor") is WeatherExtractor
    with pytest.raises(ConfigError, match=r"extractor_class: 'json:dumps' is not a BaseExtractor subclass"):
        load_extractor_class("json:dumps")
    with pytest.raises(ConfigError, match=r"extractor_class: cannot load 'no_such_module:X'"):
        load_extractor_class("no_such_module:X")
