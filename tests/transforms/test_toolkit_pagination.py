"""Every pagination style on ReadFromApi alone (its records placed and de-duplicated by TransformRecords), in a
TestPipeline on the local runner against the sample API: exact ids over several windows and the watermark their
results commit, the loop guard, the host guard and max_pages, each failure as its dead-letter row. `STRATEGIES`
is shared with tests/streaming."""

from __future__ import annotations

import pytest

from sample_api import Credentials, SampleApi
from tests.support import t
from tests.transform_support import Read, config

END = "2024-01-05T00:00:00Z"
GRAPHQL_QUERY = """
query Events($since: DateTime, $until: DateTime, $first: Int, $after: String) {
  events(since: $since, until: $until, first: $first, after: $after) {
    nodes { id updated_at title }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def read(sample_api, tmp_path, changes: dict, end: str = END) -> Read:
    """ReadFromApi of the windows 2024-01-02 .. `end` with the config `changes`."""
    return Read(tmp_path, config(tmp_path, sample_api.url, **changes), "2024-01-02", end)


STRATEGIES = {
    "offset": {
        "api_config": {
            "endpoints": {"items": {"path": "/records", "records_path": "records"}},
            "pagination": {"strategy": "offset", "page_size": 7, "total_path": "total"},
        }
    },
    "cursor_with_list_index": {
        "api_config": {
            "endpoints": {"items": {"path": "/events", "records_path": "data"}},
            "pagination": {
                "strategy": "cursor",
                "page_size": 7,
                "cursor_path": "data.-1.id",
                "cursor_param": "starting_after",
                "has_more_path": "has_more",
            },
        }
    },
    "next_url": {
        "api_config": {
            "endpoints": {"items": {"path": "/feed", "records_path": "entries"}},
            "pagination": {"strategy": "next_url", "page_size": 7, "next_url_path": "links.next"},
        }
    },
    "link_header": {
        "api_config": {
            "endpoints": {
                "items": {
                    "path": "/repos/acme/widgets/issues",
                    "params": {"state": "all", "sort": "updated", "direction": "asc"},
                    "records_path": "",
                }
            },
            "pagination": {"strategy": "link_header", "page_size": 50},
            "watermark": {"window_end_field": None},
        }
    },
    "graphql": {
        "extractor_class": "graphql",
        "api_config": {
            "endpoints": {
                "items": {
                    "path": "/graphql",
                    "method": "POST",
                    "query": GRAPHQL_QUERY,
                    "variables": {"first": 9},
                    "records_path": "data.events.nodes",
                }
            },
            "pagination": {"strategy": "graphql", "page_info_path": "data.events.pageInfo", "cursor_param": "after"},
        },
    },
}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_each_strategy_delivers_exactly_the_ids_of_several_windows(strategy, sample_api, tmp_path):
    found = read(sample_api, tmp_path, STRATEGIES[strategy])

    ids = found.ids(key="number" if strategy == "link_header" else "id")
    assert ids == sample_api.dataset.ids_between(t("2024-01-02"), t(END))
    assert len(ids) == len(set(ids)) == 3 * 48
    assert found.watermarks == {"items": t(END)}
    assert (found.failures, found.invalid) == ([], [])
    assert set(sample_api.stats()["by_status"]) == {"200"}


def test_next_url_pages_are_requested_once_each(sample_api, tmp_path):
    found = read(sample_api, tmp_path, STRATEGIES["next_url"], "2024-01-03T00:00:00Z")
    assert found.failures == []
    assert sample_api.stats()["by_path"] == {"/feed": 7}  # 48 records, 7 a page


@pytest.mark.parametrize(
    ("strategy", "what"),
    [("cursor", "cursor"), ("next_url", "next URL"), ("graphql", "cursor"), ("link_header", "next URL")],
)
def test_a_pagination_loop_fails_the_window_naming_window_and_pages(strategy, what, sample_api, tmp_path):
    sample_api.set_faults(loop_from_page=3)  # page 3 links back to page 2: not an immediate repeat
    changes = STRATEGIES.get(strategy) or {
        "api_config": {
            "endpoints": {"items": {"path": "/events", "records_path": "data"}},
            "pagination": {"strategy": "cursor", "page_size": 7, "cursor_path": "meta.next_cursor"},
        }
    }
    found = read(sample_api, tmp_path, changes, "2024-01-03T00:00:00Z")

    dead = found.failures
    assert [(d["window_start"], d["status"], d["pages_fetched"]) for d in dead] == [
        ("2024-01-02T00:00:00Z", "failed", 3)
    ]
    assert dead[0]["error"] == (
        f"items window 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z page 4: the API gave the {what} of page 2 "
        "again; the walk is stopped as a loop"
    )
    assert dead[0]["error_type"] == "PaginationError"
    assert found.watermarks == {"items": None}


def test_a_next_url_on_another_host_is_not_followed(sample_api, tmp_path, monkeypatch):
    monkeypatch.setenv("SAMPLE_KEY", "key-that-must-stay-home")
    sample_api.credentials = Credentials(api_key="key-that-must-stay-home")
    with SampleApi() as foreign:
        port = foreign.url.rsplit(":", 1)[1]
        sample_api.set_faults(next_url_host=foreign.url.replace("127.0.0.1", "localhost"))
        api_config = {
            **STRATEGIES["next_url"]["api_config"],
            "auth_config": {"auth_type": "api_key", "auth_credentials": {"key": "${env:SAMPLE_KEY}"}},
        }
        found = read(sample_api, tmp_path, {"api_config": api_config}, "2024-01-03T00:00:00Z")
        assert foreign.stats()["requests"] == 0

    dead = found.failures
    base_port = sample_api.url.rsplit(":", 1)[1]
    assert dead[0]["error"].startswith(
        f"items window 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z page 2: the URL http://localhost:{port}/feed?"
    )
    assert dead[0]["error"].endswith(
        f"is on http://localhost:{port}, not on base_url's http://127.0.0.1:{base_port}; it is not followed, "
        "so that credentials are never sent to another host"
    )
    assert "key-that-must-stay-home" not in dead[0]["error"]
    assert sample_api.stats()["by_path"] == {"/feed": 1}
    assert found.watermarks == {"items": None}


def test_reaching_max_pages_is_reported_as_a_truncated_window(sample_api, tmp_path):
    api_config = {
        **STRATEGIES["link_header"]["api_config"],
        "pagination": {"strategy": "link_header", "page_size": 5, "max_pages": 2},
    }
    found = read(sample_api, tmp_path, {"api_config": api_config}, "2024-01-03T00:00:00Z")

    dead = found.failures
    assert [(d["status"], d["pages_fetched"], d["records_fetched"]) for d in dead] == [("truncated", 2, 10)]
    assert "max_pages (2) reached" in dead[0]["error"]
    assert found.watermarks == {"items": None}
