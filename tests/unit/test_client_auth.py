"""Auth handlers and the ApiClient over real HTTP against the sample API: OAuth2 grants, rotation, 401 retry
shared by threads, credential headers on redirects, redaction, and GitHub-style rate limits."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import TypeAdapter

from beam_api_pipeline.client.api_client import ApiClient, ApiRequest
from beam_api_pipeline.client.build import create_auth_handler
from beam_api_pipeline.client.limits import RequestLimits
from beam_api_pipeline.client.retry import RetryPolicy
from beam_api_pipeline.config import AuthConfig, RetryConfig
from beam_api_pipeline.core.errors import ApiError, RateLimitedError
from sample_api import Credentials, OAuthSettings, SampleApi

_pipeline_ids = (f"unit_{n}" for n in itertools.count())


def auth_config(data: dict):
    return TypeAdapter(AuthConfig).validate_python(data)


def client_for(auth: dict, pipeline_id: str | None = None, attempts: int = 1) -> ApiClient:
    config = auth_config(auth)
    return ApiClient(
        timeout=5,
        headers={},
        retry_on=[429, 500],
        retry_policy=RetryPolicy(RetryConfig(max_attempts=attempts, base_delay=0.01, max_delay=0.02)),
        auth=create_auth_handler(config, pipeline_id or next(_pipeline_ids)),
        limits=RequestLimits(None, None),
    )


def oauth(api: SampleApi, **credentials) -> dict:
    settings = api.token_issuer.settings
    return {
        "auth_type": "oauth2",
        "auth_credentials": {
            "token_url": api.url + "/oauth/token",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "refresh_token": settings.refresh_token,
            **credentials,
        },
    }


@pytest.fixture
def oauth_api():
    with SampleApi(credentials=Credentials(oauth=True), oauth=OAuthSettings(token_lifetime=60)) as api:
        yield api


def get_items(client: ApiClient, api: SampleApi) -> list[int]:
    response = client.send(ApiRequest("GET", api.url + "/items", {"per_page": 2}))
    return [item["id"] for item in response.body["items"]]


def test_refresh_token_grant_then_reuse_until_expiry(oauth_api):
    client = client_for(oauth(oauth_api))
    assert get_items(client, oauth_api) == [1, 2]
    assert get_items(client, oauth_api) == [1, 2]
    assert oauth_api.token_issuer.grants == 1


def test_client_credentials_grant(oauth_api):
    client = client_for(oauth(oauth_api, grant_type="client_credentials", refresh_token=None))
    assert get_items(client, oauth_api) == [1, 2]
    assert oauth_api.token_issuer.grants == 1


def test_a_401_refreshes_once_and_retries_with_the_newest_refresh_token(oauth_api):
    client = client_for(oauth(oauth_api))
    get_items(client, oauth_api)
    for _ in range(3):
        oauth_api.token_issuer.revoke_access_tokens()
        assert get_items(client, oauth_api) == [1, 2]
    assert oauth_api.token_issuer.grants == 4
    assert oauth_api.token_issuer.rejected_refresh_tokens == 0
    assert oauth_api.stats()["by_status"] == {"200": 8, "401": 3}


def test_threads_and_clients_of_one_process_share_one_token_and_one_refresh(oauth_api):
    pipeline_id = next(_pipeline_ids)
    clients = [client_for(oauth(oauth_api), pipeline_id) for _ in range(4)]
    get_items(clients[0], oauth_api)
    oauth_api.token_issuer.revoke_access_tokens()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: get_items(clients[n % 4], oauth_api), range(32)))
    assert results == [[1, 2]] * 32
    assert oauth_api.token_issuer.grants == 2  # the first token, and one refresh after the revocation
    assert oauth_api.token_issuer.rejected_refresh_tokens == 0


def test_expired_tokens_are_refreshed_before_use_when_auto_refresh():
    with SampleApi(credentials=Credentials(oauth=True), oauth=OAuthSettings(token_lifetime=0.05)) as api:
        client = client_for(oauth(api))
        for _ in range(3):
            get_items(client, api)
            time.sleep(0.06)
        assert api.stats()["by_status"] == {"200": 6}  # 3 grants + 3 data requests, never a 401
        assert api.token_issuer.grants == 3


def test_a_refused_refresh_token_is_a_clear_error_without_secrets(oauth_api):
    client = client_for(oauth(oauth_api, refresh_token="stale-refresh-token-xyz"))
    with pytest.raises(ApiError) as raised:
        get_items(client, oauth_api)
    message = client.redact(str(raised.value))
    assert message == (
        f"OAuth2 token request to {oauth_api.url}/oauth/token answered 400: invalid_grant (the refresh token is "
        "invalid, expired or already used); the refresh token was refused: it may have expired or been used "
        "already (rotating refresh tokens)"
    )
    assert "stale-refresh-token-xyz" not in message


def test_redact_masks_tokens_obtained_at_run_time(oauth_api):
    client = client_for(oauth(oauth_api))
    get_items(client, oauth_api)
    token = next(iter(oauth_api.token_issuer._access_tokens))
    assert client.redact(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"
    assert client.redact(oauth_api.token_issuer.settings.client_secret) == "***"


@pytest.mark.parametrize("location_of_target", ["same host", "other host"])
def test_credential_headers_never_follow_a_redirect_to_another_host(location_of_target):
    key = {"auth_type": "api_key", "auth_credentials": {"key": "k-redirect", "name": "X-Api-Key"}}
    with SampleApi() as api, SampleApi() as other:
        target = (api.url if location_of_target == "same host" else other.url) + "/echo/headers"
        client = client_for(key)
        body = client.send(ApiRequest("GET", api.url + "/redirect", {"to": target})).body
    received = {name.lower(): value for name, value in body["headers"].items()}
    if location_of_target == "same host":
        assert received["x-api-key"] == "k-redirect"
    else:
        assert "x-api-key" not in received


def test_bearer_authorization_is_dropped_on_a_redirect_to_another_host():
    with SampleApi() as api, SampleApi() as other:
        client = client_for({"auth_type": "bearer", "auth_credentials": {"token": "t-redirect"}})
        body = client.send(ApiRequest("GET", api.url + "/redirect", {"to": other.url + "/echo/headers"})).body
    assert "authorization" not in {name.lower() for name in body["headers"]}


def test_api_key_in_the_query_is_not_added_twice_to_a_url_that_has_it():
    key = {"auth_type": "api_key", "auth_credentials": {"key": "k-q", "name": "api_key", "location": "query"}}
    with SampleApi() as api:
        body = client_for(key).send(ApiRequest("GET", api.url + "/echo/headers?api_key=k-q")).body
    assert body["query"] == {"api_key": ["k-q"]}


def test_a_github_style_403_rate_limit_is_a_rate_limit_waiting_until_the_reset():
    client = client_for({"auth_type": "none"})
    with SampleApi() as api:
        api.set_faults(rate_limit_every=1, retry_after="30")
        url = api.url + "/repos/acme/widgets/issues"
        with pytest.raises(RateLimitedError) as raised:
            client.send(ApiRequest("GET", url))
    assert 28 <= raised.value.retry_after <= 30
    assert str(raised.value) == f"GET {url} answered 403: rate limited"
