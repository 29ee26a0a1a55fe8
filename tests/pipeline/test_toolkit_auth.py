"""A wrong secret, given as `${env:...}`, fails a whole run clearly (exit code 1, one dead letter naming the 401)
and is absent from everything the run leaves: its output, logs and every file. Each auth type reading every
record, and OAuth2 over several token lifetimes, are on ReadFromApi alone in tests/transforms/test_read_auth.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from beam_api_pipeline.cli import main
from tests.support import read_jsonl
from tests.transforms.test_read_auth import AUTH_CASES


def files_containing(folder: Path, secret: str) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]


@pytest.mark.parametrize("case", ["api_key_query", "bearer"])
def test_a_wrong_secret_fails_the_run_and_is_absent_from_everything_it_leaves(
    case, sample_api, write_config, tmp_path, monkeypatch, capsys, caplog
):
    credentials, auth_config, _ = AUTH_CASES[case]
    sample_api.credentials = credentials
    wrong = "wrong-secret-Zq9"
    monkeypatch.setenv("SECRET", wrong)
    path, _ = write_config(api_config={"auth_config": auth_config})
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z"]) == 1

    dead = read_jsonl(tmp_path / "dead_letter")
    assert len(dead) == 1
    query = "since=2024-01-02T00%3A00%3A00Z&until=2024-01-03T00%3A00%3A00Z&page=1&per_page=10"
    assert dead[0]["error"] == f'GET {sample_api.url}/items?{query} answered 401: {{"message": "Bad credentials"}}'
    captured = capsys.readouterr()
    assert wrong not in captured.out + captured.err + caplog.text
    assert "answered 401" in captured.out
    assert files_containing(tmp_path, wrong) == []
