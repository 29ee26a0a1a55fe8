"""The sample API's faults for APIs that end a walk their own way (issue 27), over real HTTP on 127.0.0.1:
page caps, capped totals, empty pages that say more, records that move once a window's first page is served."""

from __future__ import annotations

import pytest
import requests

from sample_api import SampleApi
from sample_api.faults import Faults

DAY = {"since": "2024-01-02T00:00:00Z", "until": "2024-01-03T00:00:00Z"}


@pytest.fixture
def api():
    with SampleApi() as server:
        yield server


def get(api: SampleApi, path: str, **params) -> dict:
    response = requests.get(f"{api.url}{path}", params={**DAY, **params}, timeout=5)
    assert response.status_code == 200
    return response.json()


def test_a_page_cap_serves_fewer_records_than_asked_with_or_without_saying_so(api):
    api.set_faults(page_cap=4, capped_total=20)
    page = get(api, "/items", page=2, per_page=10)
    assert ([item["id"] for item in page["items"]], page["total"], page["per_page"]) == ([53, 54, 55, 56], 20, 4)
    api.set_faults(page_cap_echo=False, capped_total=0)
    assert get(api, "/items", page=1, per_page=10)["per_page"] == 10
    offsets = get(api, "/records", offset=6, limit=10)
    assert ([record["id"] for record in offsets["records"]], offsets["total"]) == ([55, 56, 57, 58], 48)


def test_empty_pages_say_more_and_lead_to_the_page_itself(api):
    api.set_faults(empty_pages=True, page_cap=20)
    first = get(api, "/events", limit=30)
    assert (len(first["data"]), first["has_more"]) == (20, True)
    empty = get(api, "/events", limit=30, cursor=first["meta"]["next_cursor"])
    assert (empty["data"], empty["has_more"], empty["meta"]["next_cursor"].startswith("hold.")) == ([], True, True)
    second = get(api, "/events", limit=30, cursor=empty["meta"]["next_cursor"])
    assert [record["id"] for record in second["data"]] == list(range(69, 89))
    feed = get(api, "/feed", limit=30)
    assert feed["links"]["next"] is not None
    assert requests.get(feed["links"]["next"], timeout=5).json()["entries"] == []


def test_a_moving_record_leaves_its_window_once_the_first_page_is_served(api):
    api.set_faults(moving_records={50})
    assert get(api, "/items", page=1, per_page=10)["total"] == 48  # served before the move
    second = get(api, "/items", page=2, per_page=10)
    assert ([item["id"] for item in second["items"]][:2], second["total"]) == ([60, 61], 47)  # 59 shifted to page 1
    assert api.dataset.record(50).updated_at.isoformat() == "2024-02-01T00:00:00+00:00"
    api.set_faults(moving_records={51}, moved_to=None)
    get(api, "/records", offset=0, limit=10)
    assert api.dataset.record(51) is None  # deleted


def test_bad_walk_faults_are_refused():
    with pytest.raises(ValueError, match=r"page_cap and capped_total must be >= 0; moved_to: not a date-time: 'x'"):
        Faults(page_cap=-1, moved_to="x")
