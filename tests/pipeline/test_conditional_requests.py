"""Conditional requests in whole runs against the sample API over HTTP (`Faults.etags`: weak ETags, 304s not
charged, as GitHub does), for what only a whole run shows: a second run re-reading the child lists of parents
that changed sends each list's last ETag, and the lists that did not change cost no charged request; a run that
stops before its commit saves no ETag; `conditional_requests: false` sends none; an API that ignores them still
gives exact rows. The pieces alone are in tests/unit/test_conditional_validators.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.client.api_client import ApiRequest
from beam_api_pipeline.client.conditional import request_key
from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.run import commit
from sample_api import SampleApi
from sample_api.auth import Credentials
from sample_api.data import Dataset
from sample_api.faults import Faults
from tests.pipeline.conftest import run_report
from tests.support import (
    NOTES_CHILD,
    RUNNER_MODES,
    items_config,
    read_jsonl,
    runner_mode_args,
    stored_watermark,
    t,
    write_yaml,
)

PARENTS = list(range(1, 11))  # the items of 2024-01-02: ten, one page of them
CHANGED = 4  # the one parent whose notes change between the runs


@pytest.fixture
def api():
    faults = Faults(etags=True, changing_paths={f"/children/{CHANGED}/notes"})
    with SampleApi(Dataset(start=t("2024-01-02"), days=1, records_per_day=10), faults).start() as server:
        yield server


def write(api: SampleApi, folder: Path, **notes: Any) -> Path:
    config = items_config(api.url, folder, api_config={"pagination": {"page_size": 20}})  # one page of items
    config["api_config"]["endpoints"]["notes"] = {**NOTES_CHILD, **notes}
    return write_yaml(folder / "pipeline.yaml", config)


def rows(folder: Path, endpoint: str | None = None) -> list[Any]:
    """The ids written for `endpoint` (None: of the one endpoint, whose files are in the output folder itself)."""
    return sorted(row["id"] for row in read_jsonl(folder / "out" / (endpoint or "")))


def notes_of(parents: list[int]) -> list[int]:
    return sorted(parent * 10 + n for parent in parents for n in (1, 2))


def update_parents(api: SampleApi) -> None:
    """Every parent changes (moves to 2024-01-03), so the next run reads each one's notes again."""
    for parent in PARENTS:
        api.dataset.move_record(parent, t("2024-01-03T12:00"))


def notes_requests(api: SampleApi) -> list[dict[str, str]]:
    return [headers for path, headers in api.conditional_headers() if path.endswith("/notes")]


@pytest.mark.parametrize("mode", RUNNER_MODES)
def test_a_second_run_of_changed_parents_costs_a_charged_request_only_for_the_child_list_that_changed(
    api, tmp_path, mode, capsys
):
    path = write(api, tmp_path)
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03", *runner_mode_args(mode))
    assert code == 0
    assert (api.charged("/children/"), api.charged("/items"), report["counters"]["not_modified"]) == (10, 1, 0)
    assert notes_requests(api) == [{}] * 10
    update_parents(api)
    api.reset_stats()
    capsys.readouterr()

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04", *runner_mode_args(mode))

    assert code == 0
    assert "  conditional requests: 9 answered 304 Not Modified (no rows)\n" in capsys.readouterr().out
    # 10 charged requests for the notes before, 1 now: the nine lists that did not change answered 304
    assert (api.charged("/children/"), api.charged("/items")) == (1, 1)
    assert sorted(status for _at, path, status in api.answers() if path.endswith("/notes")) == [200] + [304] * 9
    assert (report["counters"]["not_modified"], report["counters"]["requests"]) == (9, 11)
    assert all(headers["If-None-Match"].startswith('W/"') for headers in notes_requests(api))
    assert rows(tmp_path, "items") == sorted(PARENTS * 2)
    assert rows(tmp_path, "notes") == sorted(notes_of(PARENTS) + notes_of([CHANGED]))
    config = load_pipeline_config(path)
    assert stored_watermark(config, "items") == stored_watermark(config, "notes") == t("2024-01-04")


def test_a_run_killed_before_its_commit_saves_no_etag_and_the_next_run_reads_every_list_in_full(
    api, tmp_path, monkeypatch
):
    path = write(api, tmp_path)

    def killed(*_args):
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(commit._CommitFn, "_commit", killed)  # the rows are written, the commit never happens
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03"]) == 1
    assert api.charged("/children/") == 10
    assert rows(tmp_path, "notes") == notes_of(PARENTS)
    config = load_pipeline_config(path)
    with opened_store(config.watermark_store) as store:
        assert store.get_validators(config.pipeline_id) == {}
    monkeypatch.undo()
    api.reset_stats()
    api.reset_stats()

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")

    assert code == 0
    assert notes_requests(api) == [{}] * 10  # no If-None-Match from the ETags the failed run saw
    assert (api.charged("/children/"), report["counters"]["not_modified"]) == (10, 0)
    assert rows(tmp_path, "notes") == sorted(notes_of(PARENTS) * 2)  # written again: the pipeline's at-least-once
    assert stored_watermark(config, "notes") == t("2024-01-03")


def test_conditional_requests_false_sends_no_conditional_header_and_saves_no_validator(api, tmp_path):
    path = write(api, tmp_path, conditional_requests=False)
    assert run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")[0] == 0
    update_parents(api)
    api.reset_stats()

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04")

    assert code == 0
    assert notes_requests(api) == [{}] * 10
    assert (api.charged("/children/"), report["counters"]["not_modified"]) == (10, 0)
    assert rows(tmp_path, "notes") == sorted(notes_of(PARENTS) * 2)
    config = load_pipeline_config(path)
    with opened_store(config.watermark_store) as store:
        assert {endpoint for endpoint, _key in store.get_validators(config.pipeline_id)} == {"items"}


def test_an_api_that_ignores_if_none_match_answers_in_full_and_every_row_is_written(api, tmp_path):
    api.set_faults(etags=True, ignore_conditional=True)
    path = write(api, tmp_path)
    assert run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")[0] == 0
    update_parents(api)
    api.reset_stats()

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04")

    assert code == 0
    assert len(notes_requests(api)) == 10 and all("If-None-Match" in headers for headers in notes_requests(api))
    assert (api.charged("/children/"), report["counters"]["not_modified"]) == (10, 0)
    assert rows(tmp_path, "notes") == sorted(notes_of(PARENTS) * 2)
    assert rows(tmp_path, "items") == sorted(PARENTS * 2)


def test_a_backfill_reads_its_range_again_in_full(api, tmp_path):
    path = write(api, tmp_path)
    assert run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")[0] == 0
    api.reset_stats()

    window = ["--start_time", "2024-01-02", "--end_time", "2024-01-03", "--backfill"]
    code, report = run_report(tmp_path, "--config", str(path), *window)

    assert (code, report["counters"]["not_modified"]) == (0, 0)
    sent = sorted(api.conditional_headers())  # every path once: no dict is compared
    assert sent == sorted([("/items", {}), *((f"/children/{parent}/notes", {}) for parent in PARENTS)])
    assert rows(tmp_path, "notes") == sorted(notes_of(PARENTS) * 2)


def client_filter(api: SampleApi, folder: Path, **items: Any) -> Path:
    """/items read newest first, one page, filtered on the client: the same request in every window; `items`
    merged into the endpoint's config."""
    changes = {
        "pagination": {"page_size": 50},
        "endpoints": {"items": {"params": {"order": "desc"}, **items}},
        "watermark": {"filter": "client", "watermark_field": None, "window_end_field": None},
    }
    return write_yaml(folder / "pipeline.yaml", items_config(api.url, folder, api_config=changes))


def test_a_client_filtered_endpoint_polled_while_nothing_changed_is_answered_304_and_still_gets_what_comes_later(
    api, tmp_path
):
    path = client_filter(api, tmp_path)
    assert run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")[0] == 0
    api.reset_stats()

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04")
    assert (code, api.charged("/items"), report["counters"]["not_modified"]) == (0, 0, 1)
    assert rows(tmp_path) == PARENTS
    [added] = api.dataset.add_records(1, t("2024-01-04T06:00"))
    api.reset_stats()

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-05")
    assert (code, api.charged("/items"), report["counters"]["not_modified"]) == (0, 1, 0)
    assert rows(tmp_path) == [*PARENTS, added]
    assert stored_watermark(load_pipeline_config(path)) == t("2024-01-05")


def test_an_answer_holding_a_record_of_a_later_window_keeps_no_etag_so_the_later_window_reads_it(api, tmp_path):
    [later] = api.dataset.add_records(1, t("2024-01-03T06:00"))  # in the first answer, owed to the second window
    path = client_filter(api, tmp_path)
    assert run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")[0] == 0
    assert rows(tmp_path) == PARENTS
    api.reset_stats()

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04")

    assert (code, report["counters"]["not_modified"]) == (0, 0)
    assert api.conditional_headers() == [("/items", {})]
    assert rows(tmp_path) == [*PARENTS, later]


SECRET = "p@ss w/rd+1%&="  # URL-special characters: encoded differently in a query


def test_validators_of_requests_with_secrets_in_the_query_keep_no_secret_and_are_used(tmp_path, monkeypatch):
    """The API key sent as a query parameter by `auth_config`, and a secret value written into `params` from an
    environment variable (`${env:...}`): neither is in the control store, and the validators work."""
    monkeypatch.setenv("NOTES_SIGNATURE", SECRET)
    credentials = Credentials(api_key=SECRET, api_key_name="appid", api_key_location="query")
    dataset = Dataset(start=t("2024-01-02"), days=1, records_per_day=10)
    with SampleApi(dataset, Faults(etags=True), credentials=credentials).start() as api:
        config = items_config(api.url, tmp_path, api_config={"pagination": {"page_size": 20}})
        config["api_config"]["endpoints"]["notes"] = {**NOTES_CHILD, "params": {"view": "${env:NOTES_SIGNATURE}"}}
        config["api_config"]["auth_config"] = {
            "auth_type": "api_key",
            "auth_credentials": {"key": "${env:NOTES_SIGNATURE}", "name": "appid", "location": "query"},
        }
        path = write_yaml(tmp_path / "pipeline.yaml", config)
        assert run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")[0] == 0
        update_parents(api)

        code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04")

        assert (code, report["counters"]["not_modified"]) == (0, 10)
        url = api.url
    loaded = load_pipeline_config(path)
    with opened_store(loaded.watermark_store) as store:
        keys = sorted(key for endpoint, key in store.get_validators(loaded.pipeline_id) if endpoint == "notes")
    assert keys == sorted(
        request_key(ApiRequest("GET", f"{url}/children/{p}/notes", {"view": SECRET})) for p in PARENTS
    )
    stored = (tmp_path / "state" / "control.db").read_bytes()
    for form in {SECRET, quote(SECRET), quote_plus(SECRET), quote(SECRET, safe=""), "p@ss", "p%40ss"}:
        assert form.encode() not in stored, form


@pytest.fixture
def two_days():
    """The sample API with ETags over two days of ten items each (ids 1-10 on 2024-01-02, 11-20 on 2024-01-03)."""
    with SampleApi(Dataset(start=t("2024-01-02"), days=2, records_per_day=10), Faults(etags=True)).start() as server:
        yield server


def test_a_window_that_failed_is_read_in_full_by_the_next_run_though_a_later_window_kept_the_same_requests_etag(
    two_days, tmp_path
):
    """A `filter: client` request is the same in every window: the ETag of the second window's answer must not
    answer the first window (which failed) with a 304 while the watermark has not passed it."""
    range_check = {"check": "range", "field": "id", "min": 11, "action": "fail_window"}  # the first day fails
    failing = client_filter(two_days, tmp_path, quality=[range_check])
    config = load_pipeline_config(failing)
    code, report = run_report(tmp_path, "--config", str(failing), "--end_time", "2024-01-04")
    assert (code, report["counters"]["not_modified"]) == (1, 0)
    assert rows(tmp_path) == list(range(11, 21))
    assert stored_watermark(config) is None
    with opened_store(config.watermark_store) as store:
        assert store.get_validators(config.pipeline_id) == {}  # the second day's watermark did not move
    two_days.reset_stats()

    path = client_filter(two_days, tmp_path)  # the check removed
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04")

    assert (code, report["counters"]["not_modified"]) == (0, 0)
    assert two_days.conditional_headers() == [("/items", {}), ("/items", {})]
    assert rows(tmp_path) == sorted([*range(1, 21), *range(11, 21)])  # the second day again: at least once
    assert stored_watermark(config) == t("2024-01-04")


@pytest.fixture
def child_gone():
    """The parent/child API whose child list of parent 4 is gone (404)."""
    faults = Faults(etags=True, missing_paths={f"/children/{CHANGED}/notes"})
    with SampleApi(Dataset(start=t("2024-01-02"), days=1, records_per_day=10), faults).start() as server:
        yield server


def failed_child_then_read_again(api: SampleApi, tmp_path: Path) -> Path:
    """A run whose child task for parent 4 fails (`child_gone`), then the same range read again once its list is
    back; the config."""
    path = write(api, tmp_path)
    config = load_pipeline_config(path)

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")
    assert (code, report["counters"]["not_modified"]) == (1, 0)
    assert (stored_watermark(config, "items"), stored_watermark(config, "notes")) == (t("2024-01-03"), None)
    with opened_store(config.watermark_store) as store:
        assert store.get_validators(config.pipeline_id) == {}  # the parents' window: its child did not pass it
    api.set_faults(missing_paths=frozenset())  # the child list is back
    api.reset_stats()

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")
    assert (code, report["counters"]["not_modified"]) == (0, 0)
    return path


def test_a_child_task_that_failed_is_read_again_though_its_parents_window_had_an_etag(child_gone, tmp_path):
    path = failed_child_then_read_again(child_gone, tmp_path)

    sent = sorted(child_gone.conditional_headers())
    assert sent == sorted([("/items", {}), *((f"/children/{parent}/notes", {}) for parent in PARENTS)])
    others = [parent for parent in PARENTS if parent != CHANGED]
    assert rows(tmp_path, "items") == sorted(PARENTS * 2)
    assert rows(tmp_path, "notes") == sorted(notes_of(PARENTS) + notes_of(others))  # 41 and 42 at last
    config = load_pipeline_config(path)
    assert stored_watermark(config, "items") == stored_watermark(config, "notes") == t("2024-01-03")


def test_an_endpoint_with_a_row_count_check_sends_no_conditional_request_so_a_lookback_window_keeps_its_rows(
    two_days, tmp_path
):
    """A lookback window answered 304 would have no rows and fail `row_count` on every run."""
    changes = {
        "endpoints": {"items": {"quality": [{"check": "row_count", "min": 1, "action": "fail_window"}]}},
        "pagination": {"page_size": 50},
        "watermark": {"lookback_window": "24h"},
    }
    path = write_yaml(tmp_path / "pipeline.yaml", items_config(two_days.url, tmp_path, api_config=changes))
    assert run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03")[0] == 0
    for _ in range(2):  # each reads 2024-01-02 again (the lookback), the first also 2024-01-03
        code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04")
        assert (code, report["counters"]["not_modified"]) == (0, 0)

    assert {headers.get("If-None-Match") for _path, headers in two_days.conditional_headers()} == {None}
    assert rows(tmp_path) == sorted([*range(1, 11), *range(1, 21), *range(11, 21)])
    assert stored_watermark(load_pipeline_config(path)) == t("2024-01-04")


def test_a_replay_of_a_failed_child_task_reads_it_in_full_though_its_etag_is_saved(child_gone, tmp_path):
    path = failed_child_then_read_again(child_gone, tmp_path)  # the second run saved the ETag of every list
    config = load_pipeline_config(path)
    with opened_store(config.watermark_store) as store:
        assert len([key for endpoint, key in store.get_validators(config.pipeline_id) if endpoint == "notes"]) == 10
    child_gone.reset_stats()

    assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0

    assert child_gone.conditional_headers() == [(f"/children/{CHANGED}/notes", {})]  # the first run's failed task
    assert rows(tmp_path, "notes") == sorted(notes_of(PARENTS) * 2)  # 41 and 42 once more: twice, as the others
