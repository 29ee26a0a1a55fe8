"""Where the timestamp field and the time filter come from when the listed record does not show them plainly:
a time nested in the record, a time the listed (compact) records lack but the one-record answer has and a fields
parameter asks for, and a time parameter that takes a range in a syntax the document does not give."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from beam_api_pipeline.openapi.command import choose, describe
from beam_api_pipeline.openapi.detect import Guess, list_endpoints
from beam_api_pipeline.openapi.render import render

DATE_TIME = {"type": "string", "format": "date-time"}
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "date": DATE_TIME}}


def _answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def _document(paths: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.0.3", "servers": [{"url": "https://api.example.com"}], "paths": paths}


def _list(record: dict[str, Any], query: list[dict[str, Any]], wrapped: bool = False) -> dict[str, Any]:
    array = {"type": "array", "items": record}
    schema = {"type": "object", "properties": {"data": array}} if wrapped else array
    page = {"name": "page", "in": "query", "schema": {"type": "integer"}}
    return {"get": {"parameters": [*query, page], "responses": _answer(schema)}}


def _since(name: str = "since", **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": DATE_TIME, **extra}


def _yaml(spec: dict[str, Any], wanted: str) -> dict[str, Any]:
    url = "https://api.example.com"
    text = render(spec, choose(list_endpoints(spec), [wanted]), "s", url, url, datetime(2026, 1, 31, tzinfo=UTC))
    return yaml.safe_load(text)


COMMIT = {
    "type": "object",
    "properties": {
        "sha": {"type": "string"},
        "author": {"type": "object", "properties": {"login": {"type": "string"}, "created_at": DATE_TIME}},
        "commit": {"type": "object", "properties": {"author": PERSON, "committer": PERSON}},
    },
}


def test_a_nested_time_whose_path_names_a_change_is_the_timestamp_as_a_guess():
    (endpoint,) = list_endpoints(_document({"/commits": _list(COMMIT, [_since()])}))
    assert (endpoint.timestamp_field, endpoint.todos) == (
        Guess(
            "commit.committer.date",
            "no time at the top of the record: `commit.committer.date` is the nested time named for a change",
        ),
        {},
    )


def test_the_listing_marks_a_nested_time_as_a_guess():
    (endpoint,) = list_endpoints(_document({"/commits": _list(COMMIT, [_since()])}))
    assert describe(endpoint) == (
        "commits  GET /commits  records=(root)  pagination=page_number  page_size=-  time_filter=since (iso8601)"
        "  timestamp=commit.committer.date?  primary_key=sha?"
    )


def test_a_nested_creation_time_is_a_sub_objects_not_the_records():
    record = {"type": "object", "properties": {"id": {"type": "integer"}, "owner": COMMIT["properties"]["author"]}}
    (endpoint,) = list_endpoints(_document({"/things": _list(record, [_since()])}))
    assert (endpoint.timestamp_field, endpoint.todos) == (
        Guess(None),
        {"timestamp_field": "no time field found in the record schema: set watermark.timestamp_field"},
    )


def test_a_record_with_a_time_of_its_own_takes_no_nested_one():
    item = {"type": "object", "properties": {"modified_at": DATE_TIME}}
    record = {"type": "object", "properties": {"id": {"type": "integer"}, "seen_at": DATE_TIME, "item": item}}
    (endpoint,) = list_endpoints(_document({"/recent": _list(record, [_since()])}))
    assert (endpoint.timestamp_field, endpoint.todos) == (
        Guess(None),
        {"timestamp_field": "no time field found in the record schema: set watermark.timestamp_field"},
    )


COMPACT = {"type": "object", "properties": {"gid": {"type": "string"}, "name": {"type": "string"}}}
FULL = {"type": "object", "properties": {**COMPACT["properties"], "created_at": DATE_TIME, "modified_at": DATE_TIME}}


def _tasks(fields_param: dict[str, Any]) -> dict[str, Any]:
    one = {"get": {"responses": _answer({"type": "object", "properties": {"data": FULL}})}}
    query = [_since("modified_since"), {"in": "query", **fields_param}]
    return _document({"/tasks": _list(COMPACT, query, wrapped=True), "/tasks/{task_gid}": one})


def test_a_time_the_listed_records_lack_is_asked_for_with_the_fields_parameter():
    opt_fields = {"name": "opt_fields", "style": "form", "explode": False, "schema": {"type": "array"}}
    spec = _tasks(opt_fields)
    (endpoint,) = list_endpoints(spec)
    assert (endpoint.timestamp_field, endpoint.fields_params, list(endpoint.record_schema["properties"])) == (
        Guess(
            "modified_at",
            "the listed records lack it; the record of GET /tasks/{task_gid} has it: asked for in `opt_fields`",
        ),
        {"opt_fields": "gid,name,modified_at"},
        ["gid", "name", "modified_at"],
    )
    config = _yaml(spec, "/tasks")
    endpoint_config = config["api_config"]["endpoints"]["tasks"]
    assert (endpoint_config["params"], config["api_config"]["watermark"]["timestamp_field"]) == (
        {"opt_fields": "gid,name,modified_at"},
        "modified_at",
    )
    assert [field["name"] for field in config["output"][1]["config"]["schema"]] == ["gid", "name", "modified_at"]


def test_an_exploded_fields_parameter_gets_a_list():
    spec = _tasks({"name": "fields", "schema": {"type": "array", "items": {"type": "string"}}})
    assert _yaml(spec, "/tasks")["api_config"]["endpoints"]["tasks"]["params"] == {
        "fields": ["gid", "name", "modified_at"]
    }


def test_without_a_fields_parameter_the_missing_time_stays_a_todo():
    spec = _tasks({"name": "opt_pretty", "schema": {"type": "boolean"}})
    (endpoint,) = list_endpoints(spec)
    assert (endpoint.timestamp_field, endpoint.fields_params, endpoint.todos) == (
        Guess(None),
        {},
        {"timestamp_field": "no time field found in the record schema: set watermark.timestamp_field"},
    )


def test_a_time_parameter_taking_a_range_the_document_does_not_spell_is_a_todo_naming_it():
    created = _since("created", description="Returns runs created within the given date-time range. See the syntax.")
    record = {"type": "object", "properties": {"id": {"type": "integer"}, "created_at": DATE_TIME}}
    spec = _document({"/runs": _list(record, [created])})
    assert _yaml(spec, "/runs")["api_config"]["endpoints"]["runs"]["TODO_time_filter"] == (
        "`created` takes a time range in a syntax the document does not give: write the window into params.created"
        " in that syntax, as a template of {window_start:FORMAT} and {window_end:FORMAT}"
    )
