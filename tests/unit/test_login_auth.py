"""`auth_type: login` over real HTTP against the sample API's `POST /auth/login`, with one injected clock for the
client and the server: when a token is renewed (expires_in, a JWT's exp, lifetime), once on a 401, a second 401,
refused logins, one login for many threads, and an expired token answered `200` with an empty list."""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import TypeAdapter, ValidationError

from beam_api_pipeline.client.api_client import ApiClient, ApiRequest
from beam_api_pipeline.client.limits import RequestLimits
from beam_api_pipeline.client.login import LoginAuth, jwt_expiry, token_lifetime
from beam_api_pipeline.client.retry import RetryPolicy
from beam_api_pipeline.config import AuthConfig, LoginCredentials, RetryConfig, load_pipeline_config
from beam_api_pipeline.core.errors import ApiError, ConfigError
from sample_api import Credentials, LoginSettings, SampleApi
from sample_api.auth import LoginIssuer
from tests.support import items_config, write_yaml

START = 1_800_000_000.0
_pipeline_ids = (f"login_unit_{n}" for n in itertools.count())


class Clock:
    """Epoch seconds that move only when told, shared by the client and the server."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def login_config(**credentials) -> dict:
    settings = LoginSettings()
    return {
        "auth_type": "login",
        "auth_credentials": {
            "login_path": "/auth/login",
            "username": settings.username,
            "password": settings.password,
            "token_path": "data.token",
            **credentials,
        },
    }


def client_for(api: SampleApi, clock: Clock, auth: dict, pipeline_id: str | None = None) -> ApiClient:
    config = TypeAdapter(AuthConfig).validate_python(auth)
    return ApiClient(
        timeout=5,
        headers={},
        retry_on=[500],
        retry_policy=RetryPolicy(RetryConfig(max_attempts=1)),
        auth=LoginAuth(config, api.url, pipeline_id or next(_pipeline_ids), clock=clock),
        limits=RequestLimits(None, None),
    )


def serve(clock: Clock, **settings) -> SampleApi:
    api = SampleApi(credentials=Credentials(login=True)).start()
    api.login_issuer = LoginIssuer(LoginSettings(**settings), clock=clock)
    return api


def get_items(client: ApiClient, api: SampleApi) -> list[int]:
    response = client.send(ApiRequest("GET", api.url + "/items", {"per_page": 2}))
    return [item["id"] for item in response.body["items"]]


#: How the token's life is told, each with the server settings and the config keys: all say 2 s.
EXPIRY_CASES = {
    "expires_in": ({"jwt": False}, {"expires_in_path": "data.expires_in", "lifetime": "1h"}),
    "jwt_exp": ({"expires_in": False}, {"lifetime": "1h"}),
    "lifetime": ({"jwt": False, "expires_in": False}, {"lifetime": "2s"}),
}


@pytest.mark.parametrize("case", list(EXPIRY_CASES))
def test_a_token_is_renewed_a_quarter_of_its_life_before_it_expires(case):
    server_settings, credentials = EXPIRY_CASES[case]
    clock = Clock()
    with serve(clock, token_lifetime=2.0, **server_settings) as api:
        client = client_for(api, clock, login_config(**credentials))
        assert get_items(client, api) == [1, 2]
        clock.now = START + 1.49
        assert get_items(client, api) == [1, 2]
        assert api.login_issuer.logins == 1
        clock.now = START + 1.5  # 2 s less a quarter: due
        assert get_items(client, api) == [1, 2]
        assert api.login_issuer.logins == 2
        clock.now = START + 1.5 + 1.49
        assert get_items(client, api) == [1, 2]
        assert api.login_issuer.logins == 2
        assert api.stats()["by_status"] == {"200": 6}  # 2 logins and 4 reads, never a 401


def test_an_expired_token_answered_200_with_no_records_is_never_sent():
    clock = Clock()
    with serve(clock, token_lifetime=2.0, expired_answer="empty") as api:
        client = client_for(api, clock, login_config())
        assert get_items(client, api) == [1, 2]
        clock.now = START + 2.5  # past the JWT's exp
        assert get_items(client, api) == [1, 2]
        assert api.login_issuer.logins == 2
        assert api.login_issuer.empty_answers == 0


def test_without_any_expiry_an_expired_token_reads_as_no_records_and_the_login_warns(caplog):
    """The control: what the rules above prevent, and the warning that says how to prevent it."""
    clock = Clock()
    with serve(clock, token_lifetime=2.0, expired_answer="empty", jwt=False, expires_in=False) as api:
        client = client_for(api, clock, login_config())
        with caplog.at_level(logging.WARNING, logger="beam_api_pipeline.client.login"):
            assert get_items(client, api) == [1, 2]
        clock.now = START + 2.5
        assert get_items(client, api) == []
        assert api.login_issuer.empty_answers == 1
        assert [record.getMessage() for record in caplog.records] == [
            f"login to {api.url}/auth/login as reader@example.com: the answer says nothing of when the token "
            "expires (no expires_in_path value, not a JWT with exp), so it is renewed only after a 401; set "
            "api_config.auth_config.auth_credentials.lifetime if an expired token is answered otherwise"
        ]


def test_a_401_logs_in_once_more_and_sends_the_request_again():
    clock = Clock()
    with serve(clock, token_lifetime=2.0, jwt=False, expires_in=False) as api:
        client = client_for(api, clock, login_config())
        assert get_items(client, api) == [1, 2]
        clock.now = START + 2.0  # expired, and the client cannot know it
        assert get_items(client, api) == [1, 2]
        assert api.login_issuer.logins == 2
        assert api.stats()["by_status"] == {"200": 4, "401": 1}


def test_a_second_401_after_a_new_login_fails_with_what_to_check():
    clock = Clock()
    with serve(clock) as api:
        client = client_for(api, clock, login_config(header="X-Token"))  # the API reads Authorization only
        with pytest.raises(ApiError) as raised:
            get_items(client, api)
        assert str(raised.value) == (
            f'GET {api.url}/items?per_page=2 answered 401 again with renewed credentials: {{"message": '
            '"Requires authentication"}; the login itself succeeded, so check how the token is sent '
            "(api_config.auth_config.auth_credentials.header, api_config.auth_config.headers_prefix) and that "
            "the user may read this path"
        )
        assert raised.value.status == 401
        assert api.login_issuer.logins == 2
        assert api.stats()["by_status"] == {"200": 2, "401": 2}


def test_a_refused_login_is_an_auth_error_without_the_password():
    clock = Clock()
    with serve(clock) as api:
        client = client_for(api, clock, login_config(password="wrong-password-Zr4"))
        with pytest.raises(ApiError) as raised:
            get_items(client, api)
        assert str(raised.value) == (
            f'login to {api.url}/auth/login as reader@example.com answered 400: {{"message": "Failed to '
            'authenticate.", "data": {}}; check username and password'
        )
        assert raised.value.status == 401
        assert api.stats()["by_status"] == {"400": 1}  # no data request was sent without a token


def test_an_answer_without_a_token_at_token_path_names_the_path_and_the_keys_it_has():
    clock = Clock()
    with serve(clock) as api:
        client = client_for(api, clock, login_config(token_path="token"))
        with pytest.raises(ApiError) as raised:
            get_items(client, api)
        assert str(raised.value) == (
            f"login to {api.url}/auth/login as reader@example.com answered 200 without a token at token_path "
            "'token' (its top-level keys: data)"
        )


def test_many_threads_and_clients_of_a_process_log_in_once_per_token_life():
    clock = Clock()
    with serve(clock, token_lifetime=2.0) as api:
        pipeline_id = next(_pipeline_ids)
        clients = [client_for(api, clock, login_config(), pipeline_id) for _ in range(4)]
        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(lambda n: get_items(clients[n % 4], api), range(32)))
            clock.now = START + 1.6
            second = list(pool.map(lambda n: get_items(clients[n % 4], api), range(32)))
        assert first == second == [[1, 2]] * 32
        assert api.login_issuer.logins == 2
        assert api.stats()["by_status"] == {"200": 66}


@pytest.mark.parametrize("body_format", ["json", "form"])
def test_a_form_or_json_login_with_extra_fields_and_a_bare_token_header(body_format):
    clock = Clock()
    with serve(clock) as api:
        auth = login_config(body_format=body_format, body={"remember": True})
        client = client_for(api, clock, {**auth, "headers_prefix": ""})
        assert get_items(client, api) == [1, 2]
        assert api.login_issuer.logins == 1


def test_redact_masks_the_password_and_every_token():
    clock = Clock()
    with serve(clock) as api:
        client = client_for(api, clock, login_config())
        get_items(client, api)
        [token] = api.login_issuer.tokens()
        assert client.redact(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"
        assert client.redact(f"password={LoginSettings().password}") == "password=***"


def test_the_login_path_is_below_base_url_or_a_url_on_its_origin():
    def url(login_path: str, base_url: str) -> str:
        credentials = LoginCredentials(login_path=login_path, username="u", password="p", token_path="t")
        assert credentials.login_origin_problem(base_url) is None
        return credentials.login_url(base_url)

    assert url("auth/login", "http://api.test/v1/") == "http://api.test/v1/auth/login"
    assert url("/auth/login", "http://api.test/v1") == "http://api.test/v1/auth/login"
    assert url("http://API.test:80/login", "http://api.test/v1") == "http://API.test:80/login"


def test_a_login_url_on_another_host_is_refused_at_load_and_on_the_worker(tmp_path):
    message = (
        "api_config.auth_config.auth_credentials.login_path: https://auth.example.com:443 is not base_url's origin "
        "http://api.test:80; the login call only goes to the API's own host"
    )
    elsewhere = login_config(login_path="https://auth.example.com/login?key=k")
    path = write_yaml(
        tmp_path / "pipeline.yaml", items_config("http://api.test/v1", tmp_path, api_config={"auth_config": elsewhere})
    )
    with pytest.raises(ConfigError) as raised:
        load_pipeline_config(path)
    assert raised.value.problems == [f"{path}: {message}"]

    # a reference is checked once it is resolved, on the worker
    with_reference = login_config(login_path="${env:LOGIN_URL}")
    path = write_yaml(
        tmp_path / "pipeline.yaml",
        items_config("http://api.test/v1", tmp_path, api_config={"auth_config": with_reference}),
    )
    assert load_pipeline_config(path).api_config.auth_config.auth_credentials.login_path == "${env:LOGIN_URL}"
    with pytest.raises(ConfigError) as raised:
        LoginAuth(TypeAdapter(AuthConfig).validate_python(elsewhere), "http://api.test/v1")
    assert str(raised.value) == message


def test_the_token_life_comes_from_expires_in_then_the_jwt_exp_then_lifetime():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEwMDB9.c2ln"  # {"exp": 1000}
    assert jwt_expiry(jwt) == 1000.0
    assert jwt_expiry("opaque-token") is None
    assert jwt_expiry("a.b!.c") is None
    both = LoginCredentials(
        login_path="/l", username="u", password="p", token_path="t", expires_in_path="ttl", lifetime="1h"
    )
    assert token_lifetime(both, {"ttl": 30}, jwt, now=900.0) == 30.0
    assert token_lifetime(both, {}, jwt, now=900.0) == 100.0
    assert token_lifetime(both, {"ttl": "soon"}, "opaque", now=900.0) == 3600.0
    bare = LoginCredentials(login_path="/l", username="u", password="p", token_path="t")
    assert token_lifetime(bare, {}, "opaque", now=900.0) is None


def test_body_fields_cannot_replace_the_credentials():
    with pytest.raises(ValidationError) as raised:
        LoginCredentials(
            login_path="/l",
            username="u",
            password="p",
            token_path="t",
            username_field="identity",
            body={"identity": "someone-else"},
        )
    assert "'identity' is already the username_field or password_field" in str(raised.value)
