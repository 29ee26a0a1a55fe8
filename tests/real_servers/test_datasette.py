"""The pipeline against Datasette, a real third-party REST server (see datasette.py): two incremental runs over
its keyset pages with an API token, and its page cap and an expired token, which it answers with a 400 and a
401: failed windows, nothing written, no watermark."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from beam_api_pipeline.config import load_pipeline_config
from tests.pipeline.conftest import run_report
from tests.real_servers.conftest import WHOLE_SECONDS_DATA, datasette_config
from tests.support import read_jsonl, stored_watermark, t, write_yaml

WINDOWS = ["2024-01-02T00:00:00Z/2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z/2024-01-04T00:00:00Z"]


def _run(tmp_path: Path, config: dict[str, Any], end: str) -> tuple[int, dict[str, Any]]:
    path = write_yaml(tmp_path / "pipeline.yaml", config)
    return run_report(tmp_path, "--config", str(path), "--end_time", end)


def _watermark(tmp_path: Path):
    return stored_watermark(load_pipeline_config(tmp_path / "pipeline.yaml"))


def _assert_failed_windows(tmp_path: Path, report: dict[str, Any], server_url: str, answer: str) -> None:
    """Both windows of 2024-01-02 and 03 failed with Datasette's `answer`, nothing written, no watermark."""
    assert (report["run"]["windows_done"], report["run"]["windows_failed"]) == (0, 2)
    for error, window in zip(sorted(report["run"]["errors"]), WINDOWS, strict=True):
        assert error.startswith(f"items {window}: GET {server_url}/data/items.json?")
        assert error.endswith(answer)
    assert read_jsonl(tmp_path / "out") == []
    assert _watermark(tmp_path) is None
    assert len(read_jsonl(tmp_path / "dead_letter")) == 2


def test_two_incremental_runs_read_each_record_once(datasette, tmp_path, capsys):
    """Keyset pages (`_next`) with the reader's API token: each record once, the watermark at each run's end."""
    config = datasette_config(datasette, datasette.token(), tmp_path)

    code, _ = _run(tmp_path, config, "2024-01-04T00:00:00Z")
    assert code == 0, capsys.readouterr()
    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert ids == WHOLE_SECONDS_DATA.ids_between(t("2024-01-02"), t("2024-01-04"))
    assert _watermark(tmp_path) == t("2024-01-04")

    code, report = _run(tmp_path, config, "2024-01-07T00:00:00Z")
    assert code == 0, capsys.readouterr()
    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == WHOLE_SECONDS_DATA.ids_between(t("2024-01-02"), t("2024-01-07"))
    assert len(ids) == len(set(ids)) == 3000
    assert _watermark(tmp_path) == t("2024-01-07")
    assert report["watermarks"] == {"items": {"before": "2024-01-04T00:00:00Z", "after": "2024-01-07T00:00:00Z"}}


def test_a_page_size_above_the_servers_cap_fails_its_windows_and_holds_the_watermark(datasette, tmp_path, capsys):
    """Datasette refuses `_size` above its `max_returned_rows` (1000) with a 400, never serves fewer in silence."""
    config = datasette_config(datasette, datasette.token(), tmp_path, api_config={"pagination": {"page_size": 2000}})

    code, report = _run(tmp_path, config, "2024-01-04T00:00:00Z")
    assert code == 1, capsys.readouterr()
    refused = '"_size must be <= 1000"'
    answer = f'answered 400: {{"ok": false, "error": {refused}, "errors": [{refused}], "status": 400}}'
    _assert_failed_windows(tmp_path, report, datasette.url, answer)


def test_an_expired_token_fails_its_windows_and_holds_the_watermark(datasette, tmp_path, capsys):
    """Datasette answers a token past its `--expires-after` with a 401, never with an empty page."""
    token = datasette.token(expires_after=1)
    time.sleep(1.1)  # Datasette's own clock decides: the token must be older than its 1 s
    config = datasette_config(datasette, token, tmp_path)

    code, report = _run(tmp_path, config, "2024-01-04T00:00:00Z")
    assert code == 1, capsys.readouterr()
    answer = 'answered 401: {"ok": false, "error": "Token has expired", "errors": ["Token has expired"], "status": 401}'
    _assert_failed_windows(tmp_path, report, datasette.url, answer)
    assert token not in str(read_jsonl(tmp_path / "dead_letter")) + capsys.readouterr().out + str(report)
