"""The bundled sample API, over real HTTP on 127.0.0.1: pagination, windows, faults, stats and the CLI."""

import http.client
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from sample_api import Dataset, Faults, SampleApi

REPO_ROOT = Path(__file__).resolve().parents[2]
SINCE = datetime(2024, 1, 2, tzinfo=UTC)
UNTIL = datetime(2024, 1, 5, 12, tzinfo=UTC)
WINDOW = {"since": "2024-01-02T00:00:00Z", "until": "2024-01-05T12:00:00Z"}


@pytest.fixture
def api():
    with SampleApi() as server:
        yield server


@pytest.fixture
def session():
    with requests.Session() as http:
        yield http


def walk_items(session: requests.Session, url: str, params: dict) -> tuple[list[int], set[int]]:
    """Every id from page 1 until an empty page, and the `total` each page reported."""
    ids, totals, page = [], set(), 1
    while True:
        response = session.get(f"{url}/items", params={**params, "page": page}, timeout=5)
        response.raise_for_status()
        body = response.json()
        totals.add(body["total"])
        if not body["items"]:
            return ids, totals
        ids += [item["id"] for item in body["items"]]
        page += 1


def walk_events(session: requests.Session, url: str, params: dict) -> list[int]:
    """Every id, following next_cursor until has_more is false."""
    ids, cursor = [], None
    while True:
        response = session.get(f"{url}/events", params={**params, "cursor": cursor}, timeout=5)
        response.raise_for_status()
        body = response.json()
        ids += [record["id"] for record in body["data"]]
        if not body["has_more"]:
            assert body["meta"]["next_cursor"] is None
            return ids
        cursor = body["meta"]["next_cursor"]


def item_ids(session: requests.Session, url: str, **params: str) -> list[int]:
    response = session.get(f"{url}/items", params={"per_page": 1000, **params}, timeout=5)
    response.raise_for_status()
    return [item["id"] for item in response.json()["items"]]


def test_dataset_is_deterministic():
    dataset = Dataset(datetime(2024, 1, 1, tzinfo=UTC), days=2, records_per_day=48)
    assert len(dataset) == 96
    assert dataset.ids_between(SINCE) == list(range(49, 97))
    assert dataset.ids_between(None, datetime(2024, 1, 1, 1, tzinfo=UTC)) == [1, 2]


def test_page_walk_returns_the_window_exactly_once(api, session):
    expected = api.dataset.ids_between(SINCE, UNTIL)
    assert len(expected) == 168
    ids, totals = walk_items(session, api.url, {**WINDOW, "per_page": 10})
    assert ids == expected
    assert len(set(ids)) == len(ids)
    assert totals == {168}


def test_records_have_the_documented_shape(api, session):
    response = session.get(f"{api.url}/items", params={"per_page": 2}, timeout=5)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "items": [
            {"id": 1, "updated_at": "2024-01-01T00:00:00Z", "title": "Item 1", "value": 37},
            {"id": 2, "updated_at": "2024-01-01T00:30:00Z", "title": "Item 2", "value": 74},
        ],
        "total": 14 * 48,
        "page": 1,
        "per_page": 2,
    }


def test_page_size_is_capped(api, session):
    body = session.get(f"{api.url}/items", params={"per_page": 5000}, timeout=5).json()
    assert body["per_page"] == 1000
    assert len(body["items"]) == 672


def test_cursor_walk_returns_the_same_ids(api, session):
    assert walk_events(session, api.url, {**WINDOW, "limit": 25}) == api.dataset.ids_between(SINCE, UNTIL)


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z", [3, 4]),
        ("2024-01-01T02:00:00+01:00", "2024-01-01T03:00:00+01:00", [3, 4]),
        ("2024-01-01T01:00:00", "2024-01-01T02:00:00", [3, 4]),
        ("1704070800", "1704074400", [3, 4]),
        ("2024-01-14", "2024-01-15", list(range(625, 673))),
        ("2024-01-01T00:59:59Z", "2024-01-01T01:00:01Z", [3]),
    ],
)
def test_since_is_inclusive_and_until_exclusive(api, session, since, until, expected):
    assert item_ids(session, api.url, since=since, until=until) == expected
    assert walk_events(session, api.url, {"since": since, "until": until}) == expected


def test_missing_bounds_are_unbounded(api, session):
    assert item_ids(session, api.url) == list(range(1, 673))
    assert item_ids(session, api.url, since="2024-01-14T23:00:00Z") == [671, 672]
    assert item_ids(session, api.url, until="2024-01-01T01:00:00Z") == [1, 2]


def test_added_records_appear_in_both_endpoints(api, session):
    ids = api.dataset.add_records(3, datetime(2024, 1, 3, 0, 15, tzinfo=UTC))
    assert ids == [673, 674, 675]
    window = {"since": "2024-01-03T00:00:00Z", "until": "2024-01-03T00:30:00Z"}
    assert item_ids(session, api.url, **window) == [97, 673, 674, 675]
    assert walk_events(session, api.url, {**window, "limit": 1}) == [97, 673, 674, 675]
    assert api.dataset.add_records(1, datetime(2024, 2, 1)) == [676]
    assert item_ids(session, api.url, since="2024-02-01") == [676]


def test_a_page_past_the_end_is_empty(api, session):
    body = session.get(f"{api.url}/items", params={**WINDOW, "page": 99}, timeout=5).json()
    assert body == {"items": [], "total": 168, "page": 99, "per_page": 100}


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/items", {"page": "x"}, "page"),
        ("/items", {"page": "0"}, "page"),
        ("/items", {"page": "-1"}, "page"),
        ("/items", {"per_page": "ten"}, "per_page"),
        ("/items", {"since": "yesterday"}, "since"),
        ("/events", {"until": "2024-13-01"}, "until"),
        ("/events", {"cursor": "not a cursor!"}, "cursor"),
        ("/events", {"cursor": "bm9wZQ"}, "cursor"),
        ("/events", {"limit": "0"}, "limit"),
    ],
)
def test_bad_parameters_answer_400_naming_them(api, session, path, params, parameter):
    response = session.get(f"{api.url}{path}", params=params, timeout=5)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["parameter"] == parameter
    assert parameter in response.json()["error"]


def test_unknown_path_answers_404_json(api, session):
    response = session.get(f"{api.url}/nothing-here", timeout=5)
    assert response.status_code == 404
    assert "error" in response.json()


def test_error_rate_one_always_answers_500_but_stats_still_work(api, session):
    api.set_faults(error_rate=1.0)
    statuses = [session.get(f"{api.url}/items", timeout=5).status_code for _ in range(3)]
    assert statuses == [500, 500, 500]
    assert session.get(f"{api.url}/events", timeout=5).status_code == 500
    assert session.get(f"{api.url}/_stats", timeout=5).json()["by_status"] == {"500": 4}


def test_error_rate_draws_are_deterministic_for_a_seed(api, session):
    def statuses() -> list[int]:
        api.set_faults(error_rate=0.5, seed=7)
        return [session.get(f"{api.url}/items", timeout=5).status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert {200, 500} == set(first)


def test_rate_limit_every_second_request_answers_429_with_retry_after(api, session):
    api.faults = Faults(rate_limit_every=2, retry_after="7")
    responses = [session.get(f"{api.url}/items", params={"per_page": 1}, timeout=5) for _ in range(4)]
    assert [response.status_code for response in responses] == [200, 429, 200, 429]
    assert [response.headers.get("Retry-After") for response in responses] == [None, "7", None, "7"]
    assert api.stats()["by_status"] == {"200": 2, "429": 2}


def test_token_bucket_rate_limit_answers_429_beyond_the_burst(api, session):
    api.set_faults(rate_limit=0.5, retry_after="0")
    first = session.get(f"{api.url}/items", timeout=5)
    second = session.get(f"{api.url}/items", timeout=5)
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.headers["Retry-After"] == "0"


def test_fail_since_fails_only_that_window(session):
    faults = Faults(fail_since={"2024-01-02T00:00:00Z"})
    with SampleApi(faults=faults) as api:
        for since in ("2024-01-02T00:00:00Z", "2024-01-02", "2024-01-02T01:00:00+01:00", "1704153600"):
            response = session.get(f"{api.url}/items", params={"since": since}, timeout=5)
            assert response.status_code == 500, since
            assert "error" in response.json()
        assert session.get(f"{api.url}/events", params={"since": "2024-01-02"}, timeout=5).status_code == 500
        assert item_ids(session, api.url, since="2024-01-03", until="2024-01-03T01:00:00Z") == [97, 98]
        assert len(item_ids(session, api.url, until="2024-01-02")) == 48


def test_faults_are_validated():
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError, match="fail_since"):
        Faults(fail_since={"not a date"})
    assert Faults(fail_since="2024-01-02").fail_since == frozenset({"2024-01-02"})


def test_concurrent_slow_requests_are_handled_in_parallel(api):
    api.set_faults(latency_ms=200)

    def fetch(_: int) -> int:
        return requests.get(f"{api.url}/items", params={"per_page": 1}, timeout=5).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(fetch, range(4))) == [200] * 4
    assert time.monotonic() - started < 0.7
    assert api.stats()["max_in_flight"] > 1


def test_stats_count_by_path_and_status_and_reset(api, session):
    session.get(f"{api.url}/items", timeout=5)
    session.get(f"{api.url}/events", timeout=5)
    session.get(f"{api.url}/items", params={"page": "x"}, timeout=5)
    assert session.get(f"{api.url}/_stats", timeout=5).json() == {
        "requests": 3,
        "by_path": {"/items": 2, "/events": 1},
        "by_status": {"200": 2, "400": 1},
        "max_in_flight": 1,
    }
    api.reset_stats()
    assert api.stats() == {"requests": 0, "by_path": {}, "by_status": {}, "max_in_flight": 0}


def test_connections_are_kept_alive(api):
    parts = urlsplit(api.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request("GET", "/items?per_page=1")
        first = connection.getresponse()
        first.read()
        sock = connection.sock
        connection.request("GET", "/events?limit=1")
        second = connection.getresponse()
        second.read()
        assert (first.status, second.status) == (200, 200)
        assert sock is not None and connection.sock is sock
    finally:
        connection.close()


def test_stop_releases_the_server():
    api = SampleApi().start()
    url = api.url
    api.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/items", timeout=2)
    with pytest.raises(RuntimeError):
        _ = api.url


def test_cli_prints_the_listening_line_and_serves(session):
    process = subprocess.Popen(
        [sys.executable, "-m", "sample_api", "--port", "0", "--days", "2"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("sample API listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert urlsplit(url).port != 0
        body = session.get(f"{url}/items", timeout=5).json()
        assert body["total"] == 96
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
        process.stdout.close()
