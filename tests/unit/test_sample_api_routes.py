"""The sample API's added routes answer as the services they imitate, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from beam_api_pipeline.config import load_pipeline_config
from sample_api import Credentials, SampleApi
from sample_api.github import repository_id

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "pipelines"


@pytest.fixture
def api():
    with SampleApi() as server:
        yield server


def test_github_issues_answer_with_links_and_rate_limit_headers(api):
    response = requests.get(
        f"{api.url}/repos/acme/widgets/issues",
        params={"state": "all", "sort": "updated", "direction": "asc", "per_page": 2, "since": "2024-01-14T22:00:00Z"},
        timeout=5,
    )
    assert response.status_code == 200
    assert [issue["number"] for issue in response.json()] == [669, 670]
    next_url = f"{api.url}/repositories/{repository_id('acme', 'widgets')}/issues"
    query = "state=all&sort=updated&direction=asc&since=2024-01-14T22%3A00%3A00Z&per_page=2"
    assert (
        response.headers["Link"] == f'<{next_url}?{query}&page=2>; rel="next", <{next_url}?{query}&page=2>; rel="last"'
    )
    assert response.headers["X-RateLimit-Remaining"] == "4999"
    last = requests.get(f"{next_url}?{query}&page=2", timeout=5)
    assert [issue["number"] for issue in last.json()] == [671, 672]
    assert last.json()[1]["pull_request"]["url"].endswith("/pulls/672")


def test_weather_archive_is_columnar_and_its_errors_are_open_meteo_shaped(api):
    params = {"latitude": 52.52, "longitude": 13.41, "start_date": "2024-01-01", "end_date": "2024-01-02"}
    body = requests.get(f"{api.url}/v1/archive", params={**params, "hourly": "temperature_2m"}, timeout=5).json()
    assert len(body["hourly"]["time"]) == len(body["hourly"]["temperature_2m"]) == 48
    assert body["hourly"]["time"][:2] == ["2024-01-01T00:00", "2024-01-01T01:00"]
    bad = requests.get(f"{api.url}/v1/archive", params={**params, "end_date": "2023-12-31"}, timeout=5)
    assert bad.status_code == 400
    assert bad.json() == {
        "error": True,
        "reason": "Parameter 'end_date' is out of allowed range from 2024-01-01 to 2025-01-01",
    }


def test_graphql_answers_a_bad_cursor_with_an_errors_array(api):
    body = {"query": "{ events { nodes { id } } }", "variables": {"after": "nope!"}}
    answer = requests.post(f"{api.url}/graphql", json=body, timeout=5)
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["message"] == "Variable $after: not a cursor this API issued: 'nope!'"


def test_credentials_are_checked_and_the_token_endpoint_rotates_refresh_tokens(api):
    api.credentials = Credentials(oauth=True)
    assert requests.get(f"{api.url}/items", timeout=5).json() == {"message": "Requires authentication"}
    settings = api.token_issuer.settings
    form = {"grant_type": "refresh_token", "refresh_token": settings.refresh_token, "client_id": settings.client_id}
    first = requests.post(f"{api.url}/oauth/token", data=form, timeout=5).json()
    assert first["refresh_token"] != settings.refresh_token
    again = requests.post(f"{api.url}/oauth/token", data=form, timeout=5)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    assert requests.get(f"{api.url}/items", headers=headers, timeout=5).status_code == 200


@pytest.mark.parametrize("template", sorted(path.name for path in TEMPLATES.glob("*.yaml")))
def test_every_shipped_template_is_valid(template, monkeypatch):
    monkeypatch.setenv("SAMPLE_API_URL", "http://127.0.0.1:8080")
    assert load_pipeline_config(TEMPLATES / template).pipeline_id
