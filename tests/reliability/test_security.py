"""Nothing leaked: with every auth type, secrets never show in logs (DEBUG included), errors, dead letters, run
records, reports or outputs; credentials never reach another host, on a redirect or in a next link; turning TLS
verification off warns on every run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from beam_api_pipeline.client.api_client import ApiClient, ApiRequest
from beam_api_pipeline.client.build import create_auth_handler
from beam_api_pipeline.client.limits import RequestLimits
from beam_api_pipeline.client.retry import RetryPolicy
from beam_api_pipeline.config import AuthConfig, RetryConfig, load_pipeline_config, resolve_references
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.run.prepare import prepare_run
from sample_api import Credentials, LoginSettings, OAuthSettings, SampleApi
from sample_api.auth import LoginIssuer
from tests.support import t

OAUTH = OAuthSettings(client_secret="oauth-client-secret-Q7", refresh_token="oauth-refresh-token-W3")
LOGIN = LoginSettings(password="login-password-L5", token_lifetime=1.0)


def auth_cases(api_url: str) -> dict[str, tuple[Credentials, dict[str, Any], list[str]]]:
    """Per auth type: what the server accepts, the pipeline's auth_config (secrets from $SECRET), the secrets."""
    return {
        "api_key_custom_header": (
            Credentials(api_key="key-in-header-K1", api_key_name="X-Acme-Token"),
            {"auth_type": "api_key", "auth_credentials": {"key": "${env:SECRET}", "name": "X-Acme-Token"}},
            ["key-in-header-K1"],
        ),
        "api_key_query": (
            Credentials(api_key="key-in-query-K2", api_key_name="api_key", api_key_location="query"),
            {
                "auth_type": "api_key",
                "auth_credentials": {"key": "${env:SECRET}", "name": "api_key", "location": "query"},
            },
            ["key-in-query-K2"],
        ),
        "bearer": (
            Credentials(bearer_token="bearer-token-B3"),
            {"auth_type": "bearer", "auth_credentials": {"token": "${env:SECRET}"}},
            ["bearer-token-B3"],
        ),
        "basic": (
            Credentials(basic_username="reader", basic_password="basic-password-P4"),
            {"auth_type": "basic", "auth_credentials": {"username": "reader", "password": "${env:SECRET}"}},
            ["basic-password-P4", "cmVhZGVyOmJhc2ljLXBhc3N3b3JkLVA0"],  # and base64("reader:basic-password-P4")
        ),
        "oauth2": (
            Credentials(oauth=True),
            {
                "auth_type": "oauth2",
                "auth_credentials": {
                    "token_url": api_url + "/oauth/token",
                    "client_id": OAUTH.client_id,
                    "client_secret": "${env:SECRET}",
                    "refresh_token": "${env:REFRESH_TOKEN}",
                },
            },
            [OAUTH.client_secret, OAUTH.refresh_token],
        ),
        "login": (
            Credentials(login=True),
            {
                "auth_type": "login",
                "auth_credentials": {
                    "login_path": "/auth/login",
                    "username": LOGIN.username,
                    "password": "${env:SECRET}",
                    "token_path": "data.token",
                },
            },
            [LOGIN.password],
        ),
    }


AUTH_TYPES = ["api_key_custom_header", "api_key_query", "bearer", "basic", "oauth2", "login"]


def run_time_tokens(api: SampleApi) -> list[str]:
    """The tokens the server handed out during the test (OAuth2 grants and logins)."""
    return [*api.token_issuer._access_tokens, *api.login_issuer.tokens()]


@pytest.fixture
def oauth_api():
    with SampleApi(oauth=OAUTH) as api:
        yield api


def use_auth(case: str, api: SampleApi, monkeypatch) -> tuple[dict[str, Any], list[str]]:
    credentials, auth_config, secrets = auth_cases(api.url)[case]
    api.credentials = credentials
    api.login_issuer = LoginIssuer(LOGIN)
    monkeypatch.setenv("SECRET", secrets[0])
    monkeypatch.setenv("REFRESH_TOKEN", OAUTH.refresh_token)
    return auth_config, secrets


def files_containing(folder: Path, secret: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.parametrize("case", AUTH_TYPES)
def test_secrets_never_show_in_logs_errors_dead_letters_run_records_or_files(
    case, tmp_path, monkeypatch, pipeline_file, run_pipeline
):
    with SampleApi(oauth=OAUTH) as api:
        auth_config, secrets = use_auth(case, api, monkeypatch)
        api.set_faults(answer_faults=["drop", "html_200"], answer_fault_every=3, fail_since=["2024-01-03T00:00:00Z"])
        path = pipeline_file(api_config={"base_url": api.url, "auth_config": auth_config})
        outcome = run_pipeline(path, "2024-01-05T00:00:00Z", log_level="DEBUG")
        secrets += run_time_tokens(api)  # tokens obtained at run time
    logs = outcome.stderr

    assert outcome.code == 1  # the failing window is in the dead letter, with its URL and reason
    assert [d["window_start"] for d in outcome.dead] == ["2024-01-03T00:00:00Z"]
    assert "answered 500" in outcome.dead[0]["error"]
    assert "DEBUG" in logs and "retrying GET" in logs  # the logs were written, at every level
    for secret in secrets:
        assert secret not in logs + outcome.stdout
        assert files_containing(tmp_path, secret) == []  # outputs, dead letters, run records, report


def client_for(case: str, auth: dict[str, Any], base_url: str) -> ApiClient:
    """A client of `base_url` with `auth`, its references resolved from the environment."""
    resolved = json.loads(resolve_references(json.dumps(auth)))
    return ApiClient(
        timeout=5,
        headers={},
        retry_on=[500],
        retry_policy=RetryPolicy(RetryConfig(max_attempts=1)),
        auth=create_auth_handler(
            TypeAdapter(AuthConfig).validate_python(resolved), f"redirect_{case}", base_url=base_url
        ),
        limits=RequestLimits(None, None),
    )


@pytest.mark.parametrize("case", AUTH_TYPES)
def test_no_credential_follows_a_redirect_to_another_host(case, oauth_api, monkeypatch):
    auth_config, secrets = use_auth(case, oauth_api, monkeypatch)
    with SampleApi() as foreign:
        client = client_for(case, auth_config, oauth_api.url)
        same_host = client.send(ApiRequest("GET", oauth_api.url + "/items", {"per_page": 1}))
        answer = client.send(ApiRequest("GET", oauth_api.url + "/redirect", {"to": foreign.url + "/echo/headers"}))
        secrets += run_time_tokens(oauth_api)
        client.close()
        assert answer.url.startswith(foreign.url + "/echo/headers")

    assert same_host.status == 200  # the credentials work on their own host
    received = str(answer.body)
    assert "Authorization" not in answer.body["headers"]
    for secret in secrets:
        assert secret not in received


@pytest.mark.parametrize("case", AUTH_TYPES)
def test_a_next_link_to_another_host_is_not_followed(case, tmp_path, monkeypatch, pipeline_file, run_pipeline):
    with SampleApi(oauth=OAUTH) as api, SampleApi() as foreign:
        auth_config, _ = use_auth(case, api, monkeypatch)
        api.set_faults(next_url_host=foreign.url)
        path = pipeline_file(
            api_config={
                "base_url": api.url,
                "auth_config": auth_config,
                "endpoints": {"items": {"path": "/feed", "records_path": "entries"}},
                "pagination": {"strategy": "next_url", "next_url_path": "links.next", "page_size": 10},
            }
        )
        outcome = run_pipeline(path, "2024-01-03T00:00:00Z")
        assert foreign.stats()["requests"] == 0
        assert outcome.ids == api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))[:10]  # page 1 only
        foreign_origin, own_origin = foreign.url, api.url

    assert outcome.code == 1
    assert outcome.watermark is None
    [dead] = outcome.dead
    assert dead["error"].startswith("items window 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z page 2: the URL ")
    assert dead["error"].endswith(
        f"is on {foreign_origin}, not on base_url's {own_origin}; it is not followed, "
        "so that credentials are never sent to another host"
    )


def test_turning_tls_verification_off_warns_on_every_run(tmp_path, pipeline_file, sample_api, caplog):
    path = pipeline_file(api_config={"verify_ssl": False})
    config = load_pipeline_config(path)
    assert load_pipeline_config(pipeline_file()).api_config.verify_ssl is True  # on unless turned off
    warnings = []
    for end in ("2024-01-03", "2024-01-04"):
        caplog.clear()
        with opened_store(config.watermark_store) as store, caplog.at_level(logging.WARNING):
            pipeline, _ = prepare_run(config, store, end_time=t(end))
            pipeline.run().wait_until_finish()
        warnings.append([r.getMessage() for r in caplog.records if "verify_ssl is false" in r.getMessage()])

    for run_warnings in warnings:
        assert run_warnings and set(run_warnings) == {
            "api_config.verify_ssl is false: TLS certificates are not checked, so anyone on the network path "
            "can read and change this pipeline's requests, credentials included"
        }
