"""`check`: a conformance run of a config against the sample API over HTTP: every check passes on good configs
(page numbers, cursors, GitHub issues and their comments), each broken config names its failing check, and
nothing is written and no watermark moves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.run.check import CHECKS
from sample_api import Credentials
from sample_api.data import Dataset
from tests.support import items_config, stored_watermark, write_yaml

WINDOW = "2024-01-02T00:00:00Z/2024-01-03T00:00:00Z"
CURSOR = {
    "endpoints": {"items": {"path": "/events", "records_path": "data", "primary_key": "id"}},
    "pagination": {"strategy": "cursor", "page_size": 10, "cursor_path": "meta.next_cursor"},
}


def check(capsys, path: Path, *args: str) -> tuple[int, list[str]]:
    code = main(["check", "--config", str(path), *args])
    return code, capsys.readouterr().out.splitlines()


def test_every_check_passes_on_a_good_config_and_nothing_is_written(sample_api, tmp_path, capsys):
    path = write_yaml(tmp_path / "p.yaml", items_config(sample_api.url, tmp_path))
    code, lines = check(capsys, path)

    assert lines == [
        "pass  items  auth: the first page was answered",
        "pass  items  records_path: 'items' holds a list on each of 5 pages",
        f"pass  items  pagination: 5 pages, 48 records in {WINDOW}, no page repeated",
        "pass  items  primary_key: every record has 'id'",
        "pass  items  timestamp: every 'updated_at' is readable and in the window",
        "pass  items  boundaries: start inclusive, end exclusive (asked for id=49 at 2024-01-02T00:00:00Z on each "
        "bound), as configured",
        "pass  items  unique_keys: 48 keys, each once",
        "pass  items  stable_order: the first page, asked twice, has the same records in order",
        "pass  items  schema: inferred 4 columns: id INTEGER, updated_at TIMESTAMP, title STRING, value INTEGER",
    ]
    assert code == 0
    assert sample_api.stats()["by_path"] == {"/items": 8}  # 5 pages, the first one again, a probe of each bound
    assert not (tmp_path / "out").exists() and not (tmp_path / "dead_letter").exists()
    assert stored_watermark(load_pipeline_config(path)) is None


def test_records_limit_the_walk_and_say_so(sample_api, tmp_path, capsys):
    config = items_config(sample_api.url, tmp_path, api_config={"endpoints": {"items": {"path": "/events"}}, **CURSOR})
    code, lines = check(capsys, write_yaml(tmp_path / "p.yaml", config), "--records", "20")
    assert code == 0
    assert lines[2] == "warn  items  pagination: stopped at 2 pages, 20 records (--records), before the last page"


@pytest.mark.parametrize(
    ("changes", "faults", "line"),
    [
        (
            {"api_config": {"endpoints": {"items": {"records_path": "data"}}}},
            {},
            "fail  items  records_path: items: the answer of {url}/items?since=2024-01-02T00%3A00%3A00Z&until="
            "2024-01-03T00%3A00%3A00Z&page=1&per_page=10 has no 'data' (records_path); its keys: items, total, page, "
            "per_page",
        ),
        (
            {"api_config": {"endpoints": {"items": {"primary_key": "number"}}}},
            {},
            "fail  items  primary_key: 48 of 48 records have no 'number'",
        ),
        (
            {"api_config": CURSOR},
            {"loop_from_page": 3},
            "fail  items  pagination: after 3 pages: items window 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z page 4: "
            "the API gave the cursor of page 2 again; the walk is stopped as a loop",
        ),
        (
            {},
            {"strip_fields": ["updated_at"], "strip_every": 8},
            "fail  items  timestamp: 6 of 48 records: 'updated_at' is not readable as iso8601; the first: not a "
            "timestamp: None",
        ),
        (
            {"api_config": {"auth_config": {"auth_type": "bearer", "auth_credentials": {"token": "wrong-token"}}}},
            {},
            "fail  items  auth: the API refused the credentials (401): GET {url}/items?since=2024-01-02T00%3A00%3A00Z&"
            'until=2024-01-03T00%3A00%3A00Z&page=1&per_page=10 answered 401: {"message": "Bad credentials"}',
        ),
        (
            {"api_config": {"watermark": {"time_format": "%d.%m.%Y"}}},
            {},
            "fail  items  request: the API refused the request (400): GET {url}/items with since=02.01.2024, "
            'until=03.01.2024, page=1, per_page=10; its answer: {"error": "since: not an ISO 8601 date-time, date or '
            """epoch seconds: '02.01.2024'", "parameter": "since"}""",
        ),
        (
            {"api_config": {"endpoints": {"items": {"path": "/itemz"}}}},
            {},
            "fail  items  path: the API has no such path (404): GET {url}/itemz?since=2024-01-02T00%3A00%3A00Z&"
            'until=2024-01-03T00%3A00%3A00Z&page=1&per_page=10 answered 404: {"error": "no such path: GET /itemz"}',
        ),
        (
            {},
            {"ignore_window_filter": True},
            "fail  items  timestamp: 624 of 672 records the API returned are outside the window it was asked for or "
            "have no readable timestamp (more than watermark.max_outside_share 0.5): the API did not filter by "
            "since=2024-01-02T00:00:00Z, until=2024-01-03T00:00:00Z; for example updated_at='2024-01-01T00:00:00Z' "
            "(read as 2024-01-01T00:00:00Z) (a run fails the window)",
        ),
    ],
    ids=["records_path", "primary_key", "pagination loop", "timestamp", "auth", "400", "404", "filter ignored"],
)
def test_a_broken_config_names_its_failing_check_and_exits_1(sample_api, tmp_path, capsys, changes, faults, line):
    sample_api.credentials = Credentials(bearer_token="the-right-token")
    if "auth_config" not in changes.get("api_config", {}):
        changes = {**changes, "api_config": {**changes.get("api_config", {}), "auth_config": {
            "auth_type": "bearer", "auth_credentials": {"token": "the-right-token"}}}}  # fmt: skip
    sample_api.set_faults(**faults)
    code, lines = check(capsys, write_yaml(tmp_path / "p.yaml", items_config(sample_api.url, tmp_path, **changes)))
    assert line.replace("{url}", sample_api.url) in lines, lines
    assert [entry for entry in lines if entry.startswith("fail")] == [line.replace("{url}", sample_api.url)]
    assert code == 1
    assert "the-right-token" not in "\n".join(lines) and "wrong-token" not in "\n".join(lines)


def test_a_child_endpoint_is_checked_with_its_parents_first_record(sample_api, tmp_path, capsys, monkeypatch):
    sample_api.credentials = Credentials(bearer_token="ghp_sample_token")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_sample_token")
    template = Path(__file__).resolve().parents[2] / "templates" / "pipelines" / "github_issues.yaml"
    config = yaml.safe_load(template.read_text())
    config["api_config"]["base_url"] = sample_api.url
    config["api_config"]["rate_limit"] = 50
    config["api_config"]["watermark"]["initial_watermark"] = "2024-01-12T00:00:00Z"  # the sample API's last days
    config["watermark_store"]["path"] = str(tmp_path / "state.db")
    code, lines = check(capsys, write_yaml(tmp_path / "github.yaml", config), "--endpoint", "comments")
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == [f"pass  comments  {name}" for name in CHECKS]


def test_rows_that_do_not_fit_a_declared_schema_fail_the_schema_check(sample_api, tmp_path, capsys):
    schema = [{"name": "id", "type": "INTEGER"}, {"name": "updated_at", "type": "TIMESTAMP"},
              {"name": "title", "type": "INTEGER"}, {"name": "value", "type": "INTEGER"}]  # fmt: skip
    output = {"type": "bigquery", "config": {"project": "p", "dataset_id": "d", "table_id": "items", "schema": schema}}
    code, lines = check(
        capsys, write_yaml(tmp_path / "p.yaml", items_config(sample_api.url, tmp_path, output=[output]))
    )
    assert [line for line in lines if line.startswith(("fail", "warn"))] == [
        "fail  items  schema: row 1 does not fit the declared schema: title: expected an INTEGER, got 'Item 49'"
    ]
    assert code == 1


def test_an_unknown_endpoint_is_a_usage_error_naming_it(sample_api, tmp_path, capsys):
    path = write_yaml(tmp_path / "p.yaml", items_config(sample_api.url, tmp_path))
    assert main(["check", "--config", str(path), "--endpoint", "itemz"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--endpoint: 'itemz' is not an endpoint of sample_items (items)" in captured.err
    assert sample_api.stats()["requests"] == 0


def test_records_without_the_primary_key_are_not_counted_as_one_repeated_key(sample_api, tmp_path, capsys):
    config = items_config(sample_api.url, tmp_path, api_config={"endpoints": {"items": {"primary_key": "number"}}})
    code, lines = check(capsys, write_yaml(tmp_path / "p.yaml", config))

    assert code == 1
    assert [line for line in lines if " unique_keys: " in line] == [
        "warn  items  unique_keys: nothing to compare: no record has 'number'"
    ]


PROBED = "(asked for id=49 at 2024-01-02T00:00:00Z on each bound)"


@pytest.mark.parametrize(
    ("faults", "watermark", "line", "code"),
    [
        ({}, {}, f"pass  items  boundaries: start inclusive, end exclusive {PROBED}, as configured", 0),
        (
            {"exclusive_since": True},
            {},
            "fail  items  boundaries: start exclusive, end exclusive (asked for id=50 at 2024-01-02T00:30:00Z on each "
            "bound): set watermark.start_inclusive: false",
            1,
        ),
        (
            {"exclusive_since": True},
            {"start_inclusive": False},
            f"pass  items  boundaries: start exclusive, end exclusive {PROBED}, as configured",
            0,
        ),
        (
            {"inclusive_until": True},
            {},
            f"fail  items  boundaries: start inclusive, end inclusive {PROBED}: set watermark.end_inclusive: true",
            1,
        ),
        (
            {"inclusive_until": True},
            {"end_inclusive": True},
            f"pass  items  boundaries: start inclusive, end inclusive {PROBED}, as configured",
            0,
        ),
        (
            {"exclusive_since": True, "inclusive_until": True},
            {},
            "fail  items  boundaries: start exclusive, end inclusive (asked for id=50 at 2024-01-02T00:30:00Z on each "
            "bound): set watermark.start_inclusive: false and watermark.end_inclusive: true",
            1,
        ),
        (
            {"bound_precision": "seconds"},
            {},
            f"pass  items  boundaries: start inclusive, end exclusive {PROBED}, as configured",
            0,
        ),
        (
            {},
            {"window_end_field": None},
            f"pass  items  boundaries: start inclusive, end not sent {PROBED}, as configured",
            0,
        ),
        (
            {},
            {"watermark_field": None},
            "pass  items  boundaries: not probed: end: the answer for 2024-01-01T23:30:00Z/"
            "2024-01-02T00:00:00Z has more than one page",
            0,
        ),
        (
            {},
            {"time_format": "date"},
            "pass  items  boundaries: start inclusive, end not probed: the answer for 2024-01-01T00:00:00Z/"
            f"2024-01-02T00:00:00Z has more than one page {PROBED}, as configured",
            0,
        ),
    ],
    ids=[
        "inclusive",
        "exclusive",
        "exclusive configured",
        "end inclusive",
        "end inclusive configured",
        "both",
        "bounds cut to seconds",
        "no end sent",
        "no start sent",
        "a day's grid",
    ],
)
def test_check_probes_a_record_on_each_bound_and_names_the_key_to_set(
    sample_api, tmp_path, capsys, faults, watermark, line, code
):
    sample_api.set_faults(**faults)
    config = items_config(sample_api.url, tmp_path, api_config={"watermark": watermark})
    config["api_config"]["watermark"] = {k: v for k, v in config["api_config"]["watermark"].items() if v is not None}
    found, lines = check(capsys, write_yaml(tmp_path / "p.yaml", config))
    assert [entry for entry in lines if " boundaries: " in entry] == [line]
    assert [entry for entry in lines if entry.startswith("fail")] == ([line] if code else [])
    assert found == code


def test_check_does_not_read_an_api_that_ignores_the_bounds_as_inclusive(sample_api, tmp_path, capsys):
    """The API ignores `since` and `until` and its first page holds the probed record: the answers also hold
    records far outside the windows asked for, so the bounds are not probed (no advice to set end_inclusive)."""
    sample_api.set_faults(ignore_window_filter=True)
    changes = {"watermark": {"max_outside_share": 1}, "pagination": {"page_size": 500}}  # timestamp only warns
    config = items_config(sample_api.url, tmp_path, api_config=changes)
    code, lines = check(capsys, write_yaml(tmp_path / "p.yaml", config))
    assert [entry for entry in lines if " boundaries: " in entry] == [
        "pass  items  boundaries: not probed: start: the API answered 2024-01-02T00:00:00Z/2024-01-02T00:30:00Z "
        "with a record of 2024-01-01T00:00:00Z; end: the API answered 2024-01-01T23:30:00Z/2024-01-02T00:00:00Z "
        "with a record of 2024-01-01T00:00:00Z"
    ]
    assert code == 0, lines


@pytest.mark.parametrize(
    ("watermark", "start", "line", "requests"),
    [
        (
            {"watermark_field": None, "window_end_field": None, "filter": "client"},
            datetime(2024, 1, 1, tzinfo=UTC),
            "pass  items  boundaries: not probed: watermark.filter is client: no window bound is sent",
            2,  # its walk stops after the first page, then asks for it again
        ),
        (
            {"time_format": "epoch"},
            datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
            "pass  items  boundaries: not probed: no record's 'updated_at' is on the 1s grid of "
            "watermark.time_format 'epoch' (the earliest, 2024-01-02T00:00:00.500000Z, cannot be sent exactly)",
            6,
        ),
    ],
    ids=["no bound sent", "off the grid"],
)
def test_check_says_why_it_cannot_probe_the_bounds(sample_api, tmp_path, capsys, watermark, start, line, requests):
    sample_api.dataset = Dataset(start=start)
    config = items_config(sample_api.url, tmp_path, api_config={"watermark": watermark})
    config["api_config"]["watermark"] = {k: v for k, v in config["api_config"]["watermark"].items() if v is not None}
    code, lines = check(capsys, write_yaml(tmp_path / "p.yaml", config))
    assert [entry for entry in lines if " boundaries: " in entry] == [line]
    assert code == 0, lines
    assert sample_api.stats()["by_path"] == {"/items": requests}  # the walk and the first page again: no probe


def test_records_in_epoch_seconds_under_epoch_ms_fail_the_timestamp_check_naming_the_unit(sample_api, tmp_path, capsys):
    sample_api.set_faults(timestamp_style="epoch")
    bounds = {"since": "{window_start:iso8601}", "until": "{window_end:iso8601}"}
    config = items_config(
        sample_api.url,
        tmp_path,
        api_config={"watermark": {"time_format": "epoch_ms"}, "endpoints": {"items": {"params": bounds}}},
    )
    del config["api_config"]["watermark"]["watermark_field"], config["api_config"]["watermark"]["window_end_field"]
    code, lines = check(capsys, write_yaml(tmp_path / "p.yaml", config))
    assert [entry for entry in lines if entry.startswith("fail")] == [
        "fail  items  timestamp: 48 of 48 records: 'updated_at' is not readable as epoch_ms; the first: timestamp "
        "1704153600 is epoch seconds, not milliseconds: time_format is epoch_ms (it would read as "
        "1970-01-20T17:22:33.600000Z)"
    ]
    assert "pass  items  boundaries: not probed: the timestamp check fails" in lines
    assert code == 1
