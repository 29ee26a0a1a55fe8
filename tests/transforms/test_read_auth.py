"""Every auth type on ReadFromApi alone (its records through TransformRecords), in a TestPipeline on the local
runner against the sample API over HTTP, with secrets given as `${env:...}`: exact ids and requests, and OAuth2
over several token lifetimes with rotating refresh tokens. A wrong secret, which must be absent from everything a
run leaves, is a whole run in tests/pipeline/test_toolkit_auth.py."""

from __future__ import annotations

import json
import threading

import pytest

from sample_api import Credentials, OAuthSettings
from sample_api.auth import TokenIssuer
from tests.support import t
from tests.transform_support import Read, config

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
def test_each_auth_type_reads_every_record(case, sample_api, tmp_path, monkeypatch):
    credentials, auth_config, secret = AUTH_CASES[case]
    sample_api.credentials = credentials
    monkeypatch.setenv("SECRET", secret)
    read = Read(tmp_path, config(tmp_path, sample_api.url, api_config={"auth_config": auth_config}), "2024-01-02", END)

    assert read.ids() == sample_api.dataset.ids_between(t("2024-01-02"), t(END))
    assert sample_api.stats()["by_status"] == {"200": 15}  # 3 windows of 48 records, 10 a page: 5 pages each
    assert read.watermarks == {"items": t(END)}


def test_oauth2_outlives_several_token_lifetimes_with_rotating_refresh_tokens(sample_api, tmp_path, monkeypatch):
    lifetime = 0.5
    issuer = sample_api.token_issuer = TokenIssuer(OAuthSettings(token_lifetime=lifetime))
    sample_api.credentials = Credentials(oauth=True)
    sample_api.set_faults(latency_ms=40)
    monkeypatch.setenv("CLIENT_SECRET", issuer.settings.client_secret)
    monkeypatch.setenv("REFRESH_TOKEN", issuer.settings.refresh_token)
    auth = {
        "auth_type": "oauth2",
        "auth_credentials": {
            "token_url": sample_api.url + "/oauth/token",
            "client_id": "sample-client",
            "client_secret": "${env:CLIENT_SECRET}",
            "refresh_token": "${env:REFRESH_TOKEN}",
        },
    }
    api_config = {"auth_config": auth, "pagination": {"page_size": 4}, "max_concurrent_requests": 2}
    cfg = config(tmp_path, sample_api.url, pipeline_id="oauth_items", api_config=api_config)

    finished = threading.Event()

    def revoke_after_the_first_refresh() -> None:  # as if the server restarted mid-read: 401s follow
        while issuer.grants < 2 and not finished.wait(0.01):
            pass
        issuer.revoke_access_tokens()

    revoker = threading.Thread(target=revoke_after_the_first_refresh)
    revoker.start()
    try:
        # one window after another, so that the read lasts several token lifetimes
        read = Read(tmp_path, cfg, "2024-01-02", END, "--direct_running_mode=in_memory")
    finally:
        finished.set()
        revoker.join()

    assert read.ids() == sample_api.dataset.ids_between(t("2024-01-02"), t(END))
    answers = [at for at, path, _ in sample_api.answers() if path == "/items"]
    assert answers[-1] - answers[0] > 3 * lifetime  # the reading itself outlived three tokens
    assert issuer.grants >= 4  # one at the start, then one per lifetime at least
    assert read.counters["oauth_token_grants"] == issuer.grants
    assert issuer.rejected_refresh_tokens == 0  # each refresh used the newest refresh token
    unauthorized = sample_api.stats()["by_status"].get("401", 0)
    assert unauthorized >= 1
    assert read.counters["unauthorized_retries"] == unauthorized
    assert read.failures == []


def test_a_failed_windows_dead_letter_masks_a_key_its_error_names(sample_api, tmp_path, monkeypatch):
    """The key goes in a query parameter the URL redaction does not know by name (OpenWeather's `appid`), and the
    API answers one window without records: the error names the URL, key included, and only the fetch's own
    masking of the client's secrets keeps it out of the dead letter."""
    secret = "k-appid-5150"
    sample_api.credentials = Credentials(api_key=secret, api_key_name="appid", api_key_location="query")
    sample_api.set_faults(answer_faults=("error_200",), answer_fault_since=frozenset({"2024-01-03T00:00:00Z"}))
    monkeypatch.setenv("SECRET", secret)
    auth = {"auth_type": "api_key", "auth_credentials": {"key": "${env:SECRET}", "name": "appid", "location": "query"}}
    read = Read(tmp_path, config(tmp_path, sample_api.url, api_config={"auth_config": auth}), "2024-01-02", END)

    url = f"{sample_api.url}/items?since=2024-01-03T00%3A00%3A00Z&until=2024-01-04T00%3A00%3A00Z&page=1&per_page=10"
    error = f"items: the answer of {url}&appid=*** has no 'items' (records_path); its keys: error"
    assert read.window_failures() == [("2024-01-03T00:00:00Z", "failed", error)]
    assert secret not in json.dumps(read.failures)
    assert read.watermarks == {"items": t("2024-01-03")}  # the failed window holds it
