"""The file `init --openapi` writes for GitHub's issues and their comments, unchanged, against a mock server
generated from GitHub's own document (Stoplight's `prism mock`, installed by `make openapi-tools`; unrelated to
Beam's Prism runner): `check` passes every line. The mock answers each request with the document's examples, so
the document is served with its issue examples dated inside the first window and its `Link` example on the
mock's host; served as published (examples from 2011, a `Link` to api.github.com), `check` fails exactly the
two lines that catch it. The mock serves the two paths `check` reads, with the document's components whole: it
then starts in seconds instead of a minute."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openapi_specs import first_window, free_port, only_paths, prism_mock, spec_path

from beam_api_pipeline.cli import main

ISSUES = "/repos/{owner}/{repo}/issues"
COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
#: The generated file sends `${env:GITHUB_TOKEN}` as a bearer token (see its auth comment).
TOKEN = "ghp_not-a-real-token-0123456789"


def github_document() -> dict:
    """GitHub's document with only the two paths `check` reads."""
    return only_paths(json.loads(spec_path("github").read_text()), ISSUES, COMMENTS)


@pytest.fixture(scope="module")
def dated_mock(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("dated")
    port = free_port()
    document = github_document()
    inside = (first_window()[0] + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for issue in document["components"]["examples"]["issue-items"]["value"]:
        issue["created_at"] = issue["updated_at"] = inside
    document["components"]["headers"]["link"]["example"] = f'<http://127.0.0.1:{port}/?page=1>; rel="first"'
    (folder / "github.json").write_text(json.dumps(document))
    yield from prism_mock(folder / "github.json", port, folder / "prism.log")


@pytest.fixture(scope="module")
def published_mock(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("published")
    (folder / "github.json").write_text(json.dumps(github_document()))
    yield from prism_mock(folder / "github.json", free_port(), folder / "prism.log")


def _check(base_url: str, tmp_path: Path, capsys, monkeypatch) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_OWNER", "octocat")
    monkeypatch.setenv("GITHUB_REPO", "hello")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    out = tmp_path / "github.yaml"
    command = ["init", "--openapi", str(spec_path("github")), "--endpoints", COMMENTS, "--out", str(out)]
    assert main([*command, "--base_url", base_url]) == 0
    capsys.readouterr()
    code = main(["check", "--config", str(out)])
    output = capsys.readouterr()
    assert TOKEN not in output.out + output.err
    lines = output.out.splitlines()
    schema = [line.split(", node_id")[0] for line in lines if "  schema: " in line]
    assert schema == [
        "pass  issues  schema: inferred 28 columns: id INTEGER",
        "pass  comments  schema: inferred 12 columns: id INTEGER",
    ]
    return code, [line for line in lines if "  schema: " not in line]


def _lines(start: datetime, end: datetime, **failures: str) -> list[str]:
    window = f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"
    inside = f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
    issues = {
        "auth": "pass  issues  auth: the first page was answered",
        "records_path": "pass  issues  records_path: the body holds a list on each of 1 pages",
        "pagination": f"pass  issues  pagination: 1 pages, 1 records in {window}, no page repeated",
        "primary_key": "pass  issues  primary_key: every record has 'id'",
        "timestamp": "pass  issues  timestamp: every 'updated_at' is readable and in the window",
        "boundaries": "pass  issues  boundaries: start inclusive, end not sent (asked for id=1 at "
        f"{inside} on each bound), as configured",
        "unique_keys": "pass  issues  unique_keys: 1 keys, each once",
        "stable_order": "pass  issues  stable_order: the first page, asked twice, has the same records in order",
    }
    comments = [
        "pass  comments  auth: the first page was answered",
        "pass  comments  records_path: the body holds a list on each of 1 pages",
        f"pass  comments  pagination: 1 pages, 1 records in {window}, no page repeated",
        "pass  comments  primary_key: every record has 'id'",
        "pass  comments  timestamp: not needed: a child's records take their parent's window",
        "pass  comments  boundaries: not probed: a child's requests send no window",
        "pass  comments  unique_keys: 1 keys, each once",
        "pass  comments  stable_order: the first page, asked twice, has the same records in order",
    ]
    return [*{**issues, **failures}.values(), *comments]


def test_the_generated_github_file_passes_check_against_the_documents_mock(dated_mock, tmp_path, capsys, monkeypatch):
    code, lines = _check(dated_mock, tmp_path, capsys, monkeypatch)
    assert (code, lines) == (0, _lines(*first_window()))


def test_the_mock_serving_the_published_examples_fails_the_two_checks_that_catch_them(
    published_mock, tmp_path, capsys, monkeypatch
):
    code, lines = _check(published_mock, tmp_path, capsys, monkeypatch)
    start, end = first_window()
    window = f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"
    host = published_mock.removeprefix("http://")
    foreign = (
        "the URL https://api.github.com/resource?page=2 is on https://api.github.com:443, not on base_url's "
        f"http://{host}; it is not followed, so that credentials are never sent to another host"
    )
    expected = _lines(
        start,
        end,
        pagination=f"fail  issues  pagination: after 1 pages: issues window {window} page 2: {foreign}",
        timestamp="fail  issues  timestamp: 1 of 1 records the API returned are outside the window it was asked for "
        "or have no readable timestamp (more than watermark.max_outside_share 0.5): the API did not filter by "
        f"since={start:%Y-%m-%dT%H:%M:%SZ}; for example updated_at='2011-04-22T13:33:48Z' (read as "
        "2011-04-22T13:33:48Z) (a run fails the window)",
        boundaries="pass  issues  boundaries: not probed: the timestamp check fails",
    )
    expected[expected.index(f"pass  comments  pagination: 1 pages, 1 records in {window}, no page repeated")] = (
        f"fail  comments  pagination: after 1 pages: comments window {window} page 2: {foreign}"
    )
    assert (code, lines) == (1, expected)
