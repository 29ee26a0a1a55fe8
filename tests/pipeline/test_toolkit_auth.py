"""Every auth type end to end on DirectRunner against the sample API, with secrets given as `${env:...}`:
exact ids, OAuth2 over several token lifetimes with rotating refresh tokens, and a wrong secret that fails
clearly without the secret showing anywhere."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from apache_beam.metrics.metric import MetricsFilter

from beam_api_pipeline.cli import main
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core import metrics
from beam_api_pipeline.run.prepare import prepare_run
from sample_api import Credentials, OAuthSettings
from sample_api.auth import TokenIssuer
from tests.support import read_jsonl, t

END = "2024-01-05T00:00:00Z"


AUTH_CASES = {
    "api_key_header": (
        Credentials(api_key="k-header-123", api_key_name="X-Api-Key"),
        {"auth_type": "api_key", "auth_credentials": {"key": "${env:SECRET}", "name": "X-Api-Key"}},
        "k-header-123",
    ),
    "api_key_query": (
        Credentials(api_key="k-query-456", api_key_name="api_key", api_key_location="query"),
        {"auth_type": "api_key", "auth_credentials": {"key": "${env:SECRET}", "name": "api_key", "location": "query"}},
        "k-query-456",
    ),
    "bearer": (
        Credentials(bearer_token="tok-789"),
        {"auth_type": "bearer", "auth_credentials": {"token": "${env:SECRET}"}},
        "tok-789",
    ),
    "basic": (
        Credentials(basic_username="reader", basic_password="pw-000"),
        {"auth_type": "basic", "auth_credentials": {"username": "reader", "password": "${env:SECRET}"}},
        "pw-000",
    ),
}


@pytest.mark.parametrize("case", list(AUTH_CASES))
def test_each_auth_type_reads_every_record(case, sample_api, write_config, tmp_path, monkeypatch):
    credentials, auth_config, secret = AUTH_CASES[case]
    sample_api.credentials = credentials
    monkeypatch.setenv("SECRET", secret)
    path, _ = write_config(api_config={"auth_config": auth_config})
    assert main(["run", "--config", str(path), "--end_time", END]) == 0

    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert ids == sample_api.dataset.ids_between(t("2024-01-02"), t(END))
    assert sample_api.stats()["by_status"] == {"200": 15}  # 3 windows of 48 records, 10 a page: 5 pages each


def files_containing(folder: Path, secret: str) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]


@pytest.mark.parametrize("case", ["api_key_query", "bearer"])
def test_a_wrong_secret_fails_clearly_and_is_never_written(
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


def oauth_config(write_config, token_url: str, **credentials):
    auth = {
        "auth_type": "oauth2",
        "auth_credentials": {
            "token_url": token_url,
            "client_id": "sample-client",
            "client_secret": "${env:CLIENT_SECRET}",
            "refresh_token": "${env:REFRESH_TOKEN}",
            **credentials,
        },
    }
    return write_config(
        pipeline_id="oauth_items",
        api_config={"auth_config": auth, "pagination": {"page_size": 4}, "max_concurrent_requests": 2},
    )


def counter(result, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE).with_name(name))["counters"]
    return sum(c.committed or 0 for c in found)


def test_oauth2_outlives_several_token_lifetimes_with_rotating_refresh_tokens(
    sample_api, write_config, tmp_path, monkeypatch
):
    lifetime = 0.5
    issuer = sample_api.token_issuer = TokenIssuer(OAuthSettings(token_lifetime=lifetime))
    sample_api.credentials = Credentials(oauth=True)
    sample_api.set_faults(latency_ms=40)
    monkeypatch.setenv("CLIENT_SECRET", issuer.settings.client_secret)
    monkeypatch.setenv("REFRESH_TOKEN", issuer.settings.refresh_token)
    _, config = oauth_config(write_config, sample_api.url + "/oauth/token")

    finished = threading.Event()

    def revoke_after_the_first_refresh() -> None:  # as if the server restarted mid-run: 401s follow
        while issuer.grants < 2 and not finished.wait(0.01):
            pass
        issuer.revoke_access_tokens()

    revoker = threading.Thread(target=revoke_after_the_first_refresh)
    with opened_store(config.watermark_store) as store:
        try:
            # one window after another, so that the run lasts several token lifetimes
            pipeline, _ = prepare_run(config, store, ["--direct_running_mode=in_memory"], end_time=t(END))
            started = time.monotonic()
            revoker.start()
            result = pipeline.run()
            result.wait_until_finish()
            elapsed = time.monotonic() - started
        finally:
            finished.set()
            revoker.join()

    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert ids == sample_api.dataset.ids_between(t("2024-01-02"), t(END))
    assert elapsed > 3 * lifetime
    assert issuer.grants >= 4  # one at the start, then one per lifetime at least
    assert counter(result, "oauth_token_grants") == issuer.grants
    assert issuer.rejected_refresh_tokens == 0  # each refresh used the newest refresh token
    unauthorized = sample_api.stats()["by_status"].get("401", 0)
    assert unauthorized >= 1
    assert counter(result, "unauthorized_retries") == unauthorized
    assert read_jsonl(tmp_path / "dead_letter") == []
