"""Detection from small OpenAPI documents, one style at a time: pagination, time filters and auth."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from beam_api_pipeline.openapi.command import choose
from beam_api_pipeline.openapi.detect import TimeFilter, list_endpoints
from beam_api_pipeline.openapi.render import render

RECORD = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "created_at": {"type": "string"}, "updated_at": {"type": "string"}},
}


def _spec(query: list[dict[str, Any]], body: dict[str, Any] | None = None, headers: dict | None = None) -> dict:
    schema = body or {"type": "array", "items": RECORD}
    response = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    parameters = [{"in": "query", **param} for param in query]
    return {
        "openapi": "3.0.3",
        "servers": [{"url": "https://api.example.com"}],
        "paths": {"/things": {"get": {"parameters": parameters, "responses": {"200": response}}}},
    }


def _int(name: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "schema": {"type": "integer", **schema}}


def _str(name: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "schema": {"type": "string", **schema}}


def _wrapped(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": RECORD}, **properties}}


PAGINATION = {
    "page and per_page with a maximum": (
        _spec([_int("page"), _int("per_page", maximum=250)]),
        {"strategy": "page_number", "page_param": "page", "size_param": "per_page", "page_size": 250},
    ),
    "offset and limit with a total": (
        _spec([_int("offset"), _int("limit", maximum=1000)], _wrapped(total={"type": "integer"})),
        {
            "strategy": "offset",
            "offset_param": "offset",
            "limit_param": "limit",
            "page_size": 1000,
            "total_path": "total",
        },
    ),
    "a cursor in meta with has_more": (
        _spec(
            [_str("cursor"), _int("page_size", maximum=200)],
            _wrapped(
                meta={"type": "object", "properties": {"next_cursor": {"type": "string"}}},
                has_more={"type": "boolean"},
            ),
        ),
        {
            "strategy": "cursor",
            "cursor_param": "cursor",
            "cursor_path": "meta.next_cursor",
            "limit_param": "page_size",
            "page_size": 200,
            "has_more_path": "has_more",
        },
    ),
    "a Link header": (
        _spec([_int("per_page", maximum=100)], headers={"Link": {"schema": {"type": "string"}}}),
        {"strategy": "link_header", "size_param": "per_page", "page_size": 100},
    ),
    "a next URL": (
        _spec(
            [_int("limit", maximum=50)], _wrapped(links={"type": "object", "properties": {"next": {"type": "string"}}})
        ),
        {"strategy": "next_url", "next_url_path": "links.next", "limit_param": "limit", "page_size": 50},
    ),
}


@pytest.mark.parametrize(("spec", "section"), list(PAGINATION.values()), ids=list(PAGINATION))
def test_each_pagination_style_is_found(spec, section):
    (endpoint,) = list_endpoints(spec)
    assert (endpoint.pagination.value, endpoint.pagination.why, endpoint.todos.get("pagination")) == (
        section,
        None,
        None,
    )


TIME_FILTERS = {
    "since": ([_str("since", format="date-time")], TimeFilter("since", None, "iso8601"), "updated_at"),
    "updated_since / updated_before": (
        [_str("updated_since", format="date-time"), _str("updated_before", format="date-time")],
        TimeFilter("updated_since", "updated_before", "iso8601"),
        "updated_at",
    ),
    "modified_after in dates": (
        [_str("modified_after", format="date")],
        TimeFilter("modified_after", None, "date"),
        None,  # the record has no modified time: a TODO
    ),
    "start_time / end_time in epoch seconds": (
        [_int("start_time", format="unix-time"), _int("end_time", format="unix-time")],
        TimeFilter("start_time", "end_time", "epoch"),
        "updated_at",
    ),
    "created[gte] / created[lt]": (
        [
            {
                "name": "created",
                "style": "deepObject",
                "schema": {
                    "type": "object",
                    "properties": {
                        "gte": {"type": "string", "format": "date-time"},
                        "lt": {"type": "string", "format": "date-time"},
                    },
                },
            }
        ],
        TimeFilter("created[gte]", "created[lt]", "iso8601"),
        "created_at",
    ),
}


@pytest.mark.parametrize(("query", "time_filter", "stamp"), list(TIME_FILTERS.values()), ids=list(TIME_FILTERS))
def test_each_time_filter_style_is_found_with_its_format_and_the_field_it_filters(query, time_filter, stamp):
    (endpoint,) = list_endpoints(_spec([*query, _int("page")]))
    assert (endpoint.time_filter.value, endpoint.time_filter.why, endpoint.timestamp_field.value) == (
        time_filter,
        None,
        stamp,
    )


AUTH = {
    "bearer": (
        {"t": {"type": "http", "scheme": "bearer"}},
        {"auth_type": "bearer", "auth_credentials": {"token": "${env:EXAMPLE_TOKEN}"}},
    ),
    "basic": (
        {"b": {"type": "http", "scheme": "basic"}},
        {
            "auth_type": "basic",
            "auth_credentials": {"username": "${env:EXAMPLE_USERNAME}", "password": "${env:EXAMPLE_PASSWORD}"},
        },
    ),
    "an API key in the query": (
        {"k": {"type": "apiKey", "in": "query", "name": "api_key"}},
        {
            "auth_type": "api_key",
            "auth_credentials": {"key": "${env:EXAMPLE_API_KEY}", "name": "api_key", "location": "query"},
        },
    ),
    "OAuth2 client credentials": (
        {
            "o": {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": "https://example.com/token", "scopes": {}}},
            }
        },
        {
            "auth_type": "oauth2",
            "auth_credentials": {
                "token_url": "https://example.com/token",
                "client_id": "${env:EXAMPLE_CLIENT_ID}",
                "client_secret": "${env:EXAMPLE_CLIENT_SECRET}",
                "grant_type": "client_credentials",
            },
        },
    ),
    "OAuth2 authorization code": (
        {
            "o": {
                "type": "oauth2",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": "https://example.com/a",
                        "tokenUrl": "https://example.com/token",
                        "scopes": {},
                    }
                },
            }
        },
        {
            "auth_type": "oauth2",
            "auth_credentials": {
                "token_url": "https://example.com/token",
                "client_id": "${env:EXAMPLE_CLIENT_ID}",
                "client_secret": "${env:EXAMPLE_CLIENT_SECRET}",
                "grant_type": "refresh_token",
                "refresh_token": "${env:EXAMPLE_REFRESH_TOKEN}",
            },
        },
    ),
}


@pytest.mark.parametrize(("schemes", "auth"), list(AUTH.values()), ids=list(AUTH))
def test_each_security_scheme_becomes_auth_config_with_env_references(schemes, auth):
    spec = {**_spec([_int("page")]), "components": {"securitySchemes": schemes}}
    config = yaml.safe_load(
        render(
            spec, choose(list_endpoints(spec), ["/things"]), "s", "https://api.example.com", "https://api.example.com"
        )
    )
    assert config["api_config"]["auth_config"] == auth


def test_a_scheme_with_no_config_equivalent_is_a_todo():
    spec = {
        **_spec([_int("page")]),
        "components": {"securitySchemes": {"c": {"type": "apiKey", "in": "cookie", "name": "s"}}},
    }
    config = yaml.safe_load(
        render(spec, choose(list_endpoints(spec), ["things"]), "s", "https://x.example.com", "https://x.example.com")
    )
    assert (config["api_config"]["auth_config"], config["api_config"]["TODO_auth_config"]) == (
        {"auth_type": "none"},
        "securitySchemes.c (apiKey) has no config equivalent here",
    )


def _undeclared(description: str, answers_401: bool) -> tuple[list[str], dict[str, Any]]:
    """The auth lines and keys rendered for a document with no securitySchemes, `description` on its operation."""
    spec = _spec([_int("page")])
    operation = spec["paths"]["/things"]["get"]
    operation["description"] = description
    if answers_401:
        operation["responses"]["401"] = {"description": "Requires authentication"}
    text = render(spec, choose(list_endpoints(spec), ["things"]), "s", "https://x.example.com", "https://x.example.com")
    api = yaml.safe_load(text)["api_config"]
    return [line for line in text.splitlines() if "auth" in line], {k: v for k, v in api.items() if "auth" in k}


UNDECLARED = {
    "401 and tokens: a bearer token, guessed": (
        "Personal access tokens need the `repo` scope.",
        True,
        {"auth_config": {"auth_type": "bearer", "auth_credentials": {"token": "${env:EXAMPLE_TOKEN}"}}},
        "  auth_config:   # guessed: the document declares no securitySchemes, but 1 operations answer 401, "
        "1 descriptions name tokens and 0 API keys; sent as a bearer token",
    ),
    "401 and API keys: a TODO, no place to send the key is stated": (
        "Pass your API key.",
        True,
        {
            "auth_config": {"auth_type": "none"},
            "TODO_auth_config": "the document declares no securitySchemes, but 1 operations answer 401, "
            "0 descriptions name tokens and 1 API keys: give the API's auth",
        },
        "  auth_config: {auth_type: none}   # the document declares no securitySchemes, but 1 operations answer 401, "
        "0 descriptions name tokens and 1 API keys",
    ),
    "401 alone: a TODO": (
        "Lists the things.",
        True,
        {
            "auth_config": {"auth_type": "none"},
            "TODO_auth_config": "the document declares no securitySchemes, but 1 operations answer 401: "
            "give the API's auth",
        },
        "  auth_config: {auth_type: none}   # the document declares no securitySchemes, but 1 operations answer 401",
    ),
    "tokens but no 401: no auth": (
        "Returns the access tokens of the things.",
        False,
        {"auth_config": {"auth_type": "none"}},
        "  auth_config: {auth_type: none}   # the document declares no securitySchemes",
    ),
}


@pytest.mark.parametrize(
    ("description", "answers_401", "keys", "first_line"), list(UNDECLARED.values()), ids=list(UNDECLARED)
)
def test_a_document_without_security_schemes_is_read_for_401_answers_and_the_tokens_its_prose_names(
    description, answers_401, keys, first_line
):
    lines, api = _undeclared(description, answers_401)
    assert (api, lines[0]) == (keys, first_line)


def test_a_yaml_document_with_integer_status_codes_and_extensions_under_paths_is_read_the_same():
    spec = _spec([_int("page")])
    operation = spec["paths"]["/things"]["get"]
    operation["description"] = "Needs an access token."
    operation["responses"] = {200: operation["responses"]["200"], 401: {"description": "Requires authentication"}}
    spec["paths"]["x-generated-by"] = "a tool"  # an extension, not a path
    text = render(spec, choose(list_endpoints(spec), ["things"]), "s", "https://x.example.com", "https://x.example.com")
    assert [endpoint.path for endpoint in list_endpoints(spec)] == ["/things"]
    assert yaml.safe_load(text)["api_config"]["auth_config"] == {
        "auth_type": "bearer",
        "auth_credentials": {"token": "${env:EXAMPLE_TOKEN}"},
    }


def test_a_size_parameter_without_a_maximum_takes_the_one_its_description_states_as_a_guess():
    (endpoint,) = list_endpoints(
        _spec([_int("page"), {**_int("per_page", default=30), "description": "Results per page (max 100)."}])
    )
    assert (endpoint.pagination.value["page_size"], endpoint.pagination.why) == (
        100,
        "the largest page size, from the description of `per_page`",
    )


def test_without_any_pagination_parameter_pagination_is_a_todo():
    (endpoint,) = list_endpoints(_spec([]))
    assert (endpoint.pagination.value, endpoint.todos["pagination"]) == (
        None,
        "no pagination parameter or next link found: set pagination, or pagination.enabled: false",
    )
