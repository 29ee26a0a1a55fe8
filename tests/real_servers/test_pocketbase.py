"""The pipeline against PocketBase, a real third-party REST server (see pocketbase.py): incremental runs, its
page cap, its rate limiter and its auth, each ending in the exact ids and the exact stored watermark (or failed
windows and no watermark)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beam_api_pipeline.config import load_pipeline_config
from tests.pipeline.conftest import run_report
from tests.real_servers.conftest import (
    POCKETBASE_DATA,
    pocketbase_auth,
    pocketbase_config,
)
from tests.real_servers.pocketbase import SHORT_READER, SHORT_TOKEN_SECONDS
from tests.support import read_jsonl, stored_watermark, t, write_yaml


def _run(tmp_path: Path, config: dict[str, Any], end: str) -> tuple[int, dict[str, Any]]:
    path = write_yaml(tmp_path / "pipeline.yaml", config)
    return run_report(tmp_path, "--config", str(path), "--end_time", end)


def _ids(tmp_path: Path) -> list[str]:
    return sorted(row["id"] for row in read_jsonl(tmp_path / "out"))


def _watermark(tmp_path: Path):
    return stored_watermark(load_pipeline_config(tmp_path / "pipeline.yaml"))


def _secret(config: dict[str, Any]) -> str:
    """The token or password of `config`'s auth."""
    credentials = config["api_config"]["auth_config"]["auth_credentials"]
    return credentials.get("token") or credentials["password"]


def test_two_incremental_runs_read_each_record_once(pocketbase, tmp_path, capsys):
    config = pocketbase_config(pocketbase, tmp_path)

    code, _ = _run(tmp_path, config, "2024-01-05T00:00:00Z")
    assert code == 0, capsys.readouterr()
    assert _ids(tmp_path) == POCKETBASE_DATA.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert _watermark(tmp_path) == t("2024-01-05")

    code, report = _run(tmp_path, config, "2024-01-08T00:00:00Z")
    assert code == 0, capsys.readouterr()
    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == POCKETBASE_DATA.ids_between(t("2024-01-02"), t("2024-01-08"))
    assert len(ids) == len(set(ids)) == 3000
    assert _watermark(tmp_path) == t("2024-01-08")
    assert report["watermarks"] == {"items": {"before": "2024-01-05T00:00:00Z", "after": "2024-01-08T00:00:00Z"}}


def test_a_page_size_above_the_servers_cap_still_reads_every_record(pocketbase, tmp_path, capsys):
    """PocketBase serves at most 1000 records a page whatever `perPage` asks, and says so only in the answer's
    `perPage`: a config asking 2000 still reads windows of 1000 and 1500 records whole (issue 27, case 6)."""
    changes = {"pagination": {"page_size": 2000}, "watermark": {"window": {"window_size": "72h"}}}
    config = pocketbase_config(pocketbase, tmp_path, api_config=changes)

    code, _ = _run(tmp_path, config, "2024-01-08T00:00:00Z")
    assert code == 0, capsys.readouterr()
    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == POCKETBASE_DATA.ids_between(t("2024-01-02"), t("2024-01-08"))
    assert len(ids) == len(set(ids)) == 3000
    assert _watermark(tmp_path) == t("2024-01-08")


@pytest.fixture
def pocketbase_rate_limit(pocketbase):
    """PocketBase's own rate limiter on for signed-in lists of `items`: 5 requests a second."""
    pocketbase.set_rate_limits([{"label": "items:list", "audience": "@auth", "maxRequests": 5, "duration": 1}])
    try:
        yield
    finally:
        pocketbase.set_rate_limits([])


def test_the_servers_rate_limiter_answers_429_and_the_retried_run_is_exact(
    pocketbase, pocketbase_rate_limit, tmp_path, capsys
):
    """Asking 40 requests a second where PocketBase allows 5: its 429s are retried and every record is read."""
    changes = {"pagination": {"page_size": 100}, "rate_limit": 40, "retry": {"max_attempts": 20}}
    config = pocketbase_config(pocketbase, tmp_path, api_config=changes)

    code, report = _run(tmp_path, config, "2024-01-05T00:00:00Z")
    assert code == 0, capsys.readouterr()
    assert _ids(tmp_path) == POCKETBASE_DATA.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert _watermark(tmp_path) == t("2024-01-05")
    stats = report["run"]["endpoint_stats"]["items"]
    assert (stats["windows_done"], stats["records"], stats["errors"]) == (3, 1500, 0)
    assert stats["retries"] > 0


def test_a_collection_the_account_may_not_list_fails_its_windows_and_holds_the_watermark(pocketbase, tmp_path, capsys):
    """`private_items` admits superusers only: PocketBase answers the reader 403, every window fails with
    PocketBase's answer, nothing is written, no watermark is stored and the secret shows nowhere."""
    endpoint = {"path": "/api/collections/private_items/records"}
    config = pocketbase_config(pocketbase, tmp_path, api_config={"endpoints": {"items": endpoint}})

    code, report = _run(tmp_path, config, "2024-01-04T00:00:00Z")
    assert code == 1, capsys.readouterr()
    assert (report["run"]["windows_done"], report["run"]["windows_failed"]) == (0, 2)
    refused = 'answered 403: {"data":{},"message":"Only superusers can perform this action.","status":403}'
    windows = ["2024-01-02T00:00:00Z/2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z/2024-01-04T00:00:00Z"]
    for error, window in zip(sorted(report["run"]["errors"]), windows, strict=True):
        assert error.startswith(f"items {window}: GET {pocketbase.url}/api/collections/private_items/records?filter=")
        assert error.endswith(refused)
    assert read_jsonl(tmp_path / "out") == []
    assert _watermark(tmp_path) is None
    dead_letters = read_jsonl(tmp_path / "dead_letter")
    assert sorted((row["window_start"], row["error_type"]) for row in dead_letters) == [
        ("2024-01-02T00:00:00Z", "ApiError"),
        ("2024-01-03T00:00:00Z", "ApiError"),
    ]
    assert all(row["error"].endswith(refused) for row in dead_letters)
    assert _secret(config) not in str(dead_letters) + capsys.readouterr().out + str(report)


def test_tokens_that_expire_every_10_seconds_are_renewed_and_the_run_is_exact(pocketbase, tmp_path, capsys):
    """`short_readers` tokens expire 10 s after their login, and PocketBase answers an expired token with 200 and
    an empty list: a run of about 11 s (3 requests a second) must sign in again before its token expires."""
    auth = pocketbase_auth(pocketbase, SHORT_READER, "short_readers")
    changes = {"auth_config": auth, "pagination": {"page_size": 50}, "rate_limit": 3}
    config = pocketbase_config(pocketbase, tmp_path, api_config=changes)

    code, report = _run(tmp_path, config, "2024-01-05T00:00:00Z")
    assert code == 0, capsys.readouterr()
    assert _ids(tmp_path) == POCKETBASE_DATA.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert _watermark(tmp_path) == t("2024-01-05")
    assert report["run"]["endpoint_stats"]["items"]["seconds"] > 2 * SHORT_TOKEN_SECONDS


def test_iso_8601_bounds_that_pocketbase_compares_as_text_fail_their_windows(pocketbase, tmp_path, capsys):
    """PocketBase compares dates as text in its own format (`2024-01-03 00:00:00.000Z`): with ISO 8601 bounds
    (`T` sorts after the space) each window gets the next day's records, all outside it (issue 27, case 15)."""
    iso = "%Y-%m-%dT%H:%M:%SZ"
    bounds = f'changed_at >= "{{window_start:{iso}}}" && changed_at < "{{window_end:{iso}}}"'
    config = pocketbase_config(
        pocketbase, tmp_path, api_config={"endpoints": {"items": {"params": {"filter": bounds}}}}
    )

    code, report = _run(tmp_path, config, "2024-01-04T00:00:00Z")
    assert code == 1, capsys.readouterr()
    assert (report["run"]["windows_done"], report["run"]["windows_failed"]) == (0, 2)
    for error, day, next_day in zip(sorted(report["run"]["errors"]), ("02", "03"), ("03", "04"), strict=True):
        sent = f'filter=changed_at >= "2024-01-{day}T00:00:00Z" && changed_at < "2024-01-{next_day}T00:00:00Z"'
        assert "500 of 500 records the API returned are outside the window" in error
        assert f"the API did not filter by {sent}" in error
    assert read_jsonl(tmp_path / "out") == []
    assert _watermark(tmp_path) is None
