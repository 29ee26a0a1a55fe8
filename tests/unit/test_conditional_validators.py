"""Conditional requests piece by piece (`client.conditional`, `fetch.conditional_pages`, the control store's
validators, the commit's `save_validators`): which validators an answer gives, how a request is keyed (no secret
in a key), which endpoints send them, 304 from the sample API over HTTP, and what the commit saves. Whole runs
are in tests/pipeline/test_conditional_requests.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from beam_api_pipeline.client.api_client import ApiRequest, NotModified
from beam_api_pipeline.client.build import budget_share, build_client, client_limits
from beam_api_pipeline.client.conditional import ConditionalClient, conditional_endpoints, request_key
from beam_api_pipeline.client.validators import Validators, validators_of
from beam_api_pipeline.config import PipelineConfig, load_pipeline_config, resolve_config
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.control.store import VALIDATORS_KEPT
from beam_api_pipeline.control.watermarks import WindowOutcome
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.conditional_pages import ConditionalPages
from beam_api_pipeline.pagination import Page
from beam_api_pipeline.plan.parents import ParentRef
from beam_api_pipeline.plan.run_plan import RunPlan, WindowResult, WindowStatus, WindowTask
from beam_api_pipeline.run.commit import save_validators
from sample_api import SampleApi
from sample_api.faults import Faults
from tests.support import items_config, merged, t

DAY = Window(t("2024-01-02"), t("2024-01-03"))
NOTES = {"parent": "items", "path": "/children/{parent.id}/notes", "records_path": "notes"}


def config(tmp_path: Path, url: str = "http://api.test", **changes) -> PipelineConfig:
    data = merged(items_config(url, tmp_path), changes)
    return load_pipeline_config(json.dumps(data))


def client_of(pipeline: PipelineConfig):
    resolved = resolve_config(pipeline)
    return build_client(resolved, client_limits(resolved, budget_share(resolved, 1)))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ETag": 'W/"a1"'}, Validators('W/"a1"', None)),
        (
            {"etag": '"b"', "Last-Modified": "Tue, 02 Jan 2024 00:00:00 GMT", "Date": "Tue, 02 Jan 2024 00:00:01 GMT"},
            Validators('"b"', "Tue, 02 Jan 2024 00:00:00 GMT"),
        ),
        (  # changed within the second it was sent: a later change in that second would keep the date
            {"Last-Modified": "Tue, 02 Jan 2024 00:00:00 GMT", "Date": "Tue, 02 Jan 2024 00:00:00 GMT"},
            None,
        ),
        ({"Last-Modified": "Tue, 02 Jan 2024 00:00:00 GMT"}, None),  # no Date: not known to be a second old
        ({"Last-Modified": "yesterday", "Date": "Tue, 02 Jan 2024 00:00:00 GMT"}, None),
        ({"Content-Type": "application/json"}, None),
    ],
)
def test_the_validators_of_an_answer(headers, expected):
    assert validators_of(headers) == expected


def test_validators_make_the_conditional_headers():
    assert Validators('W/"a"', "Tue, 02 Jan 2024 00:00:00 GMT").headers() == {
        "If-None-Match": 'W/"a"',
        "If-Modified-Since": "Tue, 02 Jan 2024 00:00:00 GMT",
    }
    assert Validators(None, None).headers() == {}


#: The key of GET http://api.test/items?a=1&b=2&c=x y: a digest that no run, process or version changes.
ITEMS_KEY = "4f16104754b00d114e91cac2b932eb3dbebb12aac3c87114b91a4f5053697ce2"


def test_a_request_key_is_a_stable_digest_of_the_request_with_its_parameters_decoded_and_sorted():
    same = [
        ApiRequest("GET", "http://api.test/items?b=2", {"a": "1", "c": "x y"}),
        ApiRequest("GET", "http://api.test/items", {"c": "x y", "b": 2, "a": "1"}),
        ApiRequest("GET", "http://api.test/items?c=x%20y&a=1&b=2"),
    ]
    assert {request_key(request) for request in same} == {ITEMS_KEY}
    others = [
        ApiRequest("GET", "http://api.test/items", {"a": "1", "b": "2", "c": "x+y"}),
        ApiRequest("POST", "http://api.test/items?a=1&b=2&c=x%20y"),
        ApiRequest("GET", "http://api.test/other?a=1&b=2&c=x%20y"),
        ApiRequest("POST", "http://api.test/q", {}, {"query": "x", "key": "k-123"}),
        ApiRequest("POST", "http://api.test/q", {}, {"query": "x", "key": "other"}),
    ]
    keys = [request_key(request) for request in others]
    assert len({ITEMS_KEY, *keys}) == 6
    assert request_key(ApiRequest("POST", "http://api.test/q", {}, {"key": "other", "query": "x"})) == keys[-1]


def test_two_values_of_a_reference_give_two_keys_and_no_key_holds_the_value(tmp_path, monkeypatch):
    """`${env:...}` values in a parameter under a dotted name and in `base_url` (prod and staging, repo a and b):
    each config keys its requests apart, and a digest holds none of the values."""
    endpoints = {"items": {"params": {"repo": "${env:REPO}", "auth.sig": "${env:SIG}"}}}
    pipeline = config(tmp_path, "${env:BASE}", api_config={"endpoints": endpoints})
    keys = {}
    for base, repo in (("http://api.test", "a"), ("http://api.test", "b"), ("http://staging.api.test", "a")):
        monkeypatch.setenv("BASE", base)
        monkeypatch.setenv("REPO", repo)
        monkeypatch.setenv("SIG", "p%40ss+w%2Frd")
        resolved = resolve_config(pipeline)
        extractor = RestExtractor(resolved, "items")
        keys[base, repo] = request_key(extractor.build_request(DAY, extractor.pagination.first_position()))
    assert len(set(keys.values())) == 3
    assert all(len(key) == 64 and set(key) <= set("0123456789abcdef") for key in keys.values())


def test_endpoints_send_conditional_requests_unless_false_or_an_output_truncates_its_table(tmp_path):
    endpoints = {"endpoints": {"notes": NOTES, "other": {"path": "/x", "conditional_requests": False}}}
    assert conditional_endpoints(config(tmp_path, api_config=endpoints)) == {"items", "notes"}

    truncate = [{"type": "bigquery", "config": {"dataset_id": "d", "table_id": "t", "write_disposition": "truncate"}}]
    assert conditional_endpoints(config(tmp_path, api_config=endpoints, output=truncate)) == frozenset()
    forced = {"endpoints": {"notes": {**NOTES, "conditional_requests": True}}}
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, api_config=forced, output=truncate)
    assert caught.value.problems == [
        "<inline JSON>: api_config.endpoints.notes.conditional_requests: must not be true when output.0 has "
        "write_disposition truncate"
    ]


def test_a_disabled_output_that_truncates_its_table_leaves_conditional_requests_on(tmp_path):
    local = {"type": "local", "config": {"path": str(tmp_path / "out")}}
    truncate = {"type": "bigquery", "config": {"dataset_id": "d", "table_id": "t", "write_disposition": "truncate"}}
    forced = {"endpoints": {"items": {"conditional_requests": True}}}
    pipeline = config(tmp_path, api_config=forced, output=[local, {**truncate, "enabled": False}])

    assert (pipeline.truncated_outputs(), conditional_endpoints(pipeline)) == ([], {"items"})
    enabled = config(tmp_path, output=[local, truncate])
    assert (enabled.truncated_outputs(), conditional_endpoints(enabled)) == (["output.1"], frozenset())


def test_an_endpoint_with_a_row_count_or_freshness_check_sends_no_conditional_requests(tmp_path):
    count = {"check": "row_count", "min": 1}
    fresh = {"check": "freshness", "max_age": "2d"}
    endpoints = {"items": {"quality": [count]}, "notes": {**NOTES, "quality": [fresh]}, "other": {"path": "/x"}}
    assert conditional_endpoints(config(tmp_path, api_config={"endpoints": endpoints})) == {"other"}

    forced = {"endpoints": {"items": {"quality": [{"check": "not_null", "field": "id"}, fresh]}}}
    forced["endpoints"]["items"]["conditional_requests"] = True
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, api_config=forced)
    assert caught.value.problems == [
        "<inline JSON>: api_config.endpoints.items.conditional_requests: must not be true with a freshness check "
        "(a window answered 304 has no rows to judge)"
    ]


def test_a_conditional_request_answered_304_raises_not_modified_once_without_a_retry(tmp_path):
    with SampleApi(faults=Faults(etags=True)).start() as api:
        client = client_of(config(tmp_path, api.url))
        request = ApiRequest("GET", f"{api.url}/children/3/notes")
        first = client.send(request)
        found = validators_of(first.headers)
        assert found is not None and found.etag.startswith('W/"')
        api.reset_stats()

        with pytest.raises(NotModified, match=f"GET {api.url}/children/3/notes answered 304 Not Modified"):
            ConditionalClient(client, found).send(request)
        assert client.send(request).body == first.body  # the same request without validators: in full
        assert [status for _at, _path, status in api.answers()] == [304, 200]
        assert api.conditional_headers() == [
            ("/children/3/notes", {"If-None-Match": found.etag}),
            ("/children/3/notes", {}),
        ]
        assert api.charged() == 1


def test_the_sample_api_charges_no_token_of_its_rate_limit_for_a_304(tmp_path):
    with SampleApi(faults=Faults(etags=True, rate_limit=1)).start() as api:
        client = client_of(config(tmp_path, api.url, api_config={"retry": {"max_attempts": 1}}))
        request = ApiRequest("GET", f"{api.url}/children/3/notes")
        found = validators_of(client.send(request).headers)  # the bucket's one token
        for _ in range(3):
            with pytest.raises(NotModified):
                ConditionalClient(client, found).send(request)
        assert [status for _at, _path, status in api.answers()] == [200, 304, 304, 304]


def test_the_local_store_saves_validators_replaces_them_per_request_and_keeps_pipelines_apart(tmp_path):
    store = LocalWatermarkStore(tmp_path / "control.db")
    first = {("notes", "GET a"): Validators('W/"1"'), ("notes", "GET b"): Validators(None, "Tue, 02 Jan 2024")}
    store.save_validators("p", "run-1", first)
    store.save_validators("q", "run-1", {("notes", "GET a"): Validators('W/"q"')})
    store.save_validators("p", "run-2", {("notes", "GET a"): Validators('W/"2"')})

    assert store.get_validators("p") == {**first, ("notes", "GET a"): Validators('W/"2"')}
    assert store.get_validators("q") == {("notes", "GET a"): Validators('W/"q"')}
    assert store.get_validators("r") == {}
    store.close()


def test_the_local_store_deletes_a_pipelines_validators_saved_more_than_30_days_before_a_save(tmp_path):
    store = LocalWatermarkStore(tmp_path / "control.db")
    day = datetime(2024, 3, 1, tzinfo=UTC)
    store.save_validators("p", "run-1", {("items", "old"): Validators('W/"o"')}, day)
    store.save_validators("q", "run-1", {("items", "old"): Validators('W/"q"')}, day)  # another pipeline's
    store.save_validators("p", "run-2", {("items", "kept"): Validators('W/"k"')}, day + timedelta(days=1))
    store.save_validators("p", "run-3", {("items", "new"): Validators('W/"n"')}, day + VALIDATORS_KEPT)
    assert set(store.get_validators("p")) == {("items", "old"), ("items", "kept"), ("items", "new")}

    store.save_validators("p", "run-4", {("items", "new"): Validators('W/"n2"')}, day + VALIDATORS_KEPT + timedelta(1))

    assert store.get_validators("p") == {("items", "kept"): Validators('W/"k"'), ("items", "new"): Validators('W/"n2"')}
    assert store.get_validators("q") == {("items", "old"): Validators('W/"q"')}
    assert timedelta(days=30) == VALIDATORS_KEPT
    store.close()


def test_the_commit_saves_the_validators_of_windows_the_watermark_passed_for_the_endpoint_and_those_below(tmp_path):
    store = LocalWatermarkStore(tmp_path / "control.db")
    second, third = Window(t("2024-01-03"), t("2024-01-04")), Window(t("2024-01-04"), t("2024-01-05"))
    plan = RunPlan("run-1", "p", datetime.now(UTC), [], endpoint_parents={"items": None, "notes": "items"})
    parent = ParentRef.for_record({"id": 7}, "id", ["id"])
    results = [
        WindowResult(WindowTask("items", window), WindowStatus.DONE, 1, 3, validators=((f"GET {n}", f'W/"{n}"', None),))
        for n, window in enumerate((DAY, second, third))
    ]
    results.append(
        WindowResult(WindowTask("notes", DAY, parent), WindowStatus.DONE, 1, 2, validators=(("GET c", 'W/"c"', None),))
    )
    outcomes = {
        "items": [WindowOutcome(DAY, True), WindowOutcome(second, True), WindowOutcome(third, True)],
        "notes": [WindowOutcome(DAY, True), WindowOutcome(second, False), WindowOutcome(third, True)],
    }
    # notes' watermark stops at its failed window: items' second and third windows wait for it
    watermarks = {"items": t("2024-01-05"), "notes": t("2024-01-03")}

    save_validators(store, plan, results, outcomes, watermarks)

    assert store.get_validators("p") == {
        ("items", "GET 0"): Validators('W/"0"'),
        ("notes", "GET c"): Validators('W/"c"'),
    }
    store.close()


def test_the_commit_saves_no_validators_of_a_complete_window_the_watermark_has_not_passed(tmp_path):
    """A failed earlier window holds the watermark before a complete later one: the later one's key may be the
    earlier one's (`filter: client`)."""
    store = LocalWatermarkStore(tmp_path / "control.db")
    second = Window(t("2024-01-03"), t("2024-01-04"))
    plan = RunPlan("run-1", "p", datetime.now(UTC), [])
    result = WindowResult(WindowTask("items", second), WindowStatus.DONE, 1, 3, validators=(("GET a", 'W/"a"', None),))
    outcomes = {"items": [WindowOutcome(DAY, False), WindowOutcome(second, True)]}

    save_validators(store, plan, [result], outcomes, {"items": None})
    save_validators(store, plan, [result], outcomes, {"items": t("2024-01-03")})
    assert store.get_validators("p") == {}
    save_validators(store, plan, [result], outcomes, None)  # no watermarks: the window complete is enough
    assert store.get_validators("p") == {("items", "GET a"): Validators('W/"a"')}
    store.close()


def test_a_page_keeps_its_validators_unless_it_holds_a_record_of_a_later_window(tmp_path):
    pipeline = config(tmp_path, api_config={"endpoints": {"notes": NOTES}})
    pages = ConditionalPages(pipeline, client_of(pipeline))
    extractor = RestExtractor(pipeline, "items")
    task = WindowTask("items", DAY)
    headers = {"ETag": 'W/"e"'}
    inside = Page({}, headers, [{"id": 1, "updated_at": "2024-01-02T23:59:59Z"}])
    later = Page(
        {}, headers, [{"id": 1, "updated_at": "2024-01-02T10:00:00Z"}, {"id": 2, "updated_at": "2024-01-03T00:00:00Z"}]
    )
    unreadable = Page({}, headers, [{"id": 1}])

    [(key, etag, modified)] = pages.kept(extractor, task, inside)
    assert (etag, modified) == ('W/"e"', None)
    params = {"page": "1", "per_page": "10", "since": "2024-01-02T00:00:00Z", "until": "2024-01-03T00:00:00Z"}
    assert key == request_key(ApiRequest("GET", "http://api.test/items", params))
    assert pages.kept(extractor, task, later) == pages.kept(extractor, task, unreadable) == ()
    assert pages.kept(extractor, task, Page({}, {}, [])) == ()  # no validator
    parent = ParentRef.for_record({"id": 7}, "id", ["id"])
    child = RestExtractor(pipeline, "notes").for_parent(parent)
    child_task = WindowTask("notes", DAY, parent)
    child_key = request_key(ApiRequest("GET", "http://api.test/children/7/notes?page=1&per_page=10"))
    assert pages.kept(child, child_task, unreadable) == ((child_key, 'W/"e"', None),)


def test_if_modified_since_is_answered_304_from_the_last_modified_on(tmp_path):
    with SampleApi(faults=Faults(etags=True)).start() as api:
        client = client_of(config(tmp_path, api.url))
        request = ApiRequest("GET", f"{api.url}/children/3/notes")
        client.send(request)

        with pytest.raises(NotModified):
            ConditionalClient(client, Validators(None, "Fri, 01 Jan 2100 00:00:00 GMT")).send(request)
        answer = ConditionalClient(client, Validators(None, "Mon, 01 Jan 2024 00:00:00 GMT")).send(request)
        assert answer.status == 200 and answer.body["notes"] == [{"id": 31, "child_id": 3}, {"id": 32, "child_id": 3}]
        assert [status for _at, _path, status in api.answers()] == [200, 304, 200]


def test_a_commit_that_cannot_save_validators_logs_it_and_goes_on(tmp_path, caplog):
    store = LocalWatermarkStore(tmp_path / "control.db")
    store.close()  # every statement now fails
    result = WindowResult(WindowTask("items", DAY), WindowStatus.DONE, 1, 3, validators=(("GET a", 'W/"a"', None),))

    plan = RunPlan("run-1", "p", datetime.now(UTC), [])
    save_validators(store, plan, [result], {"items": [WindowOutcome(DAY, True)]}, {"items": t("2024-01-03")})

    assert [record.getMessage() for record in caplog.records] == [
        "validators of 1 requests not saved: ProgrammingError: Cannot operate on a closed database."
    ]
