"""The file `init --openapi` writes for Asana's tasks, with its one TODO filled in as it says
(`pagination.cursor_path`, which the document does not describe), against Stoplight's `prism mock` of Asana's
document (with the security the document declares: a request without the bearer token gets a 401): `check`
passes every line. The mock answers with the document's example and ignores query parameters, so it serves a
copy of the document whose list answer has an example: one task dated inside the first window, with the
`modified_at` that the generated `opt_fields` asks the API for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from openapi_specs import first_window, free_port, only_paths, prism_mock, spec_path

from beam_api_pipeline.cli import main

TODO_PAGINATION = '      TODO_pagination: "where the next `offset` is in the answer: set pagination.cursor_path"\n'


@pytest.fixture(scope="module")
def asana_mock(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("asana")
    document = only_paths(json.loads(spec_path("asana").read_text()), "/tasks")
    inside = (first_window()[0] + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    task = {"gid": "1", "resource_type": "task", "name": "Bug", "resource_subtype": "default_task"}
    answer = document["paths"]["/tasks"]["get"]["responses"]["200"]["content"]["application/json"]
    answer["example"] = {"data": [{**task, "modified_at": inside}], "next_page": None}
    (folder / "asana.json").write_text(json.dumps(document))
    yield from prism_mock(folder / "asana.json", free_port(), folder / "prism.log")


def test_the_generated_asana_tasks_file_passes_check_against_the_documents_mock(
    asana_mock, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASANA_TOKEN", "a-token")
    out = tmp_path / "asana.yaml"
    command = ["init", "--openapi", str(spec_path("asana")), "--endpoints", "/tasks", "--out", str(out)]
    assert main([*command, "--base_url", asana_mock]) == 0
    text = out.read_text()
    assert TODO_PAGINATION in text
    out.write_text(text.replace(TODO_PAGINATION, "        cursor_path: next_page.offset\n"))
    capsys.readouterr()
    code = main(["check", "--config", str(out)])
    start, end = first_window()
    window = f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"
    assert (code, capsys.readouterr().out.splitlines()) == (
        0,
        [
            "pass  tasks  auth: the first page was answered",
            "pass  tasks  records_path: 'data' holds a list on each of 1 pages",
            f"pass  tasks  pagination: 1 pages, 1 records in {window}, no page repeated",
            "pass  tasks  primary_key: every record has 'gid'",
            "pass  tasks  timestamp: every 'modified_at' is readable and in the window",
            "pass  tasks  boundaries: start inclusive, end not sent (asked for gid='1' at "
            f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ} on each bound), as configured",
            "pass  tasks  unique_keys: 1 keys, each once",
            "pass  tasks  stable_order: the first page, asked twice, has the same records in order",
            "pass  tasks  schema: inferred 5 columns: gid STRING, resource_type STRING, name STRING, "
            "resource_subtype STRING, modified_at TIMESTAMP",
        ],
    )


def test_without_the_token_the_asana_mock_refuses_the_request_that_asks_for_modified_at(
    asana_mock, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASANA_TOKEN", "")
    out = tmp_path / "asana.yaml"
    command = ["init", "--openapi", str(spec_path("asana")), "--endpoints", "/tasks", "--out", str(out)]
    assert main([*command, "--base_url", asana_mock]) == 0
    out.write_text(out.read_text().replace(TODO_PAGINATION, "        cursor_path: next_page.offset\n"))
    capsys.readouterr()
    assert main(["check", "--config", str(out)]) == 1
    start = first_window()[0]
    fields = "gid%2Cresource_type%2Cname%2Cresource_subtype%2Cmodified_at"
    query = f"opt_fields={fields}&modified_since={start:%Y-%m-%d}T00%3A00%3A00Z"
    assert capsys.readouterr().out.splitlines() == [
        f"fail  tasks  auth: the API refused the credentials (401): GET {asana_mock}/tasks?{query}&limit=100 answered "
        '401: {"errors":[{"help":"For more information on API status codes and how to handle them, read the docs on '
        'errors: https://asana.github.io/developer-docs/#errors\'","message":"project: Missing input","phras'
    ]
