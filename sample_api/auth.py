"""Credentials the sample API's data routes can require, its OAuth 2.0 token endpoint and its login route.

`Credentials` lists what is accepted (an API key in a header or query parameter, a bearer token, a basic
user and password, tokens from `POST /oauth/token`, tokens from `POST /auth/login`); a request passes when it
carries any one of them. `TokenIssuer` implements the `refresh_token` and `client_credentials` grants with
short-lived access tokens and, by default, rotating refresh tokens: each refresh returns a new refresh token and
the old one stops working. `LoginIssuer` answers a username and password (JSON or a form) with a JWT-like token
that expires after `LoginSettings.token_lifetime` seconds, told by `expires_in` or only by the token's `exp`; an
expired login token is answered 401, or (`expired_answer="empty"`, as some self-hosted APIs do) 200 with an
empty list.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sample_api.protocol import BadRequest, Reply, Request

TOKEN_PATH = "/oauth/token"
LOGIN_PATH = "/auth/login"


@dataclass(frozen=True)
class OAuthSettings:
    """The token endpoint's client, first refresh token, access-token lifetime and rotation."""

    client_id: str = "sample-client"
    client_secret: str = "sample-client-secret"
    refresh_token: str = "sample-refresh-token-0"
    token_lifetime: float = 3600.0
    rotate_refresh_tokens: bool = True


@dataclass(frozen=True)
class Credentials:
    """What the data routes accept; with nothing set, they are open."""

    api_key: str | None = None
    api_key_name: str = "X-API-Key"
    api_key_location: Literal["header", "query"] = "header"
    bearer_token: str | None = None
    basic_username: str | None = None
    basic_password: str | None = None
    oauth: bool = False
    login: bool = False

    @property
    def required(self) -> bool:
        """True when some credential is required."""
        return bool(self.api_key or self.bearer_token or self.basic_username or self.oauth or self.login)


class TokenIssuer:
    """Issues and checks access tokens; thread-safe. `grants` counts the tokens issued."""

    def __init__(self, settings: OAuthSettings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._refresh_tokens = {settings.refresh_token}
        self._access_tokens: dict[str, float] = {}
        self.grants = 0
        self.rejected_refresh_tokens = 0

    def is_valid(self, access_token: str) -> bool:
        """True when `access_token` was issued here and has not expired or been revoked."""
        with self._lock:
            expires = self._access_tokens.get(access_token)
            return expires is not None and self._clock() < expires

    def revoke_access_tokens(self) -> None:
        """Make every access token issued so far invalid (as if the server restarted)."""
        with self._lock:
            self._access_tokens.clear()

    def grant(self, request: Request) -> Reply:
        """Answer `POST /oauth/token` (form-encoded; client credentials in the form or as basic auth)."""
        form = request.form()
        client_id, client_secret = _client_of(request, form)
        if client_id != self.settings.client_id:
            return _oauth_error(401, "invalid_client", "unknown client")
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            if client_secret != self.settings.client_secret:
                return _oauth_error(401, "invalid_client", "client authentication failed")
            return Reply(200, self._issue(refresh=None), _NO_STORE)
        if grant_type == "refresh_token":
            return self._refresh(form.get("refresh_token") or "")
        return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")

    def _refresh(self, refresh_token: str) -> Reply:
        with self._lock:
            if refresh_token not in self._refresh_tokens:
                self.rejected_refresh_tokens += 1
                return _oauth_error(400, "invalid_grant", "the refresh token is invalid, expired or already used")
            new_refresh = refresh_token
            if self.settings.rotate_refresh_tokens:
                self._refresh_tokens.discard(refresh_token)
                new_refresh = f"rt-{secrets.token_urlsafe(12)}"
                self._refresh_tokens.add(new_refresh)
        return Reply(200, self._issue(refresh=new_refresh), _NO_STORE)

    def _issue(self, refresh: str | None) -> dict:
        token = f"at-{secrets.token_urlsafe(12)}"
        with self._lock:
            self._access_tokens[token] = self._clock() + self.settings.token_lifetime
            self.grants += 1
        body: dict = {"access_token": token, "token_type": "Bearer", "expires_in": self.settings.token_lifetime}
        if refresh is not None:
            body["refresh_token"] = refresh
        return body


@dataclass(frozen=True)
class LoginSettings:
    """The login route's user, token lifetime, what the answer tells of it, and how an expired token is answered.

    The answer is `{"data": {"token": ..., "expires_in": ...}}` (`expires_in` left out when `expires_in` is
    False); the token is a JWT with `exp` when `jwt`, else opaque. Tokens are accepted in `Authorization` with the
    `Bearer` prefix or bare (PocketBase's way).
    """

    username: str = "reader@example.com"
    password: str = "sample-login-password"
    token_lifetime: float = 2.0
    expires_in: bool = True
    jwt: bool = True
    expired_answer: Literal["401", "empty"] = "401"


class LoginIssuer:
    """Answers `POST /auth/login` and checks its tokens; thread-safe. `logins` counts the tokens issued,
    `empty_answers` the requests answered with no records because their token had expired."""

    def __init__(self, settings: LoginSettings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self.logins = 0
        self.refused_logins = 0
        self.empty_answers = 0

    def tokens(self) -> list[str]:
        """Every token issued so far."""
        with self._lock:
            return list(self._tokens)

    def login(self, request: Request) -> Reply:
        """Answer a login: the credentials as JSON or as a form."""
        content_type = request.headers.get("Content-Type") or ""
        try:
            sent = request.form() if content_type.startswith("application/x-www-form-urlencoded") else request.json()
        except BadRequest:
            sent = None
        sent = sent if isinstance(sent, dict) else {}
        if (sent.get("username"), sent.get("password")) != (self.settings.username, self.settings.password):
            with self._lock:
                self.refused_logins += 1
            return Reply(400, {"message": "Failed to authenticate.", "data": {}})
        expires = self._clock() + self.settings.token_lifetime
        token = _jwt_like(self.settings.username, expires) if self.settings.jwt else f"lt-{secrets.token_urlsafe(16)}"
        with self._lock:
            self._tokens[token] = expires
            self.logins += 1
        data: dict = {"token": token}
        if self.settings.expires_in:
            data["expires_in"] = self.settings.token_lifetime
        return Reply(200, {"data": data}, _NO_STORE)

    def state_of(self, request: Request) -> Literal["valid", "expired", "unknown"]:
        """Whether `request` carries a valid token of this issuer, an expired one, or none of its tokens."""
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        with self._lock:
            expires = self._tokens.get(token)
            if expires is None:
                return "unknown"
            return "valid" if self._clock() < expires else "expired"

    def hides_data(self, request: Request) -> bool:
        """True (and counted) when `request` came with an expired token that is answered as if there were no
        records."""
        if self.settings.expired_answer != "empty" or self.state_of(request) != "expired":
            return False
        with self._lock:
            self.empty_answers += 1
        return True


def _jwt_like(subject: str, expires: float) -> str:
    """A token shaped like a JWT (header.payload.signature, base64url) whose payload holds `exp`."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    payload = {"sub": subject, "exp": expires, "jti": secrets.token_urlsafe(8)}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.{secrets.token_urlsafe(16)}"


_NO_STORE = {"Cache-Control": "no-store"}


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "error_description": description}, _NO_STORE)


def _basic_pair(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _client_of(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    pair = _basic_pair(request.headers.get("Authorization"))
    if pair is not None:
        return pair
    return form.get("client_id"), form.get("client_secret")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    return token if scheme in ("Bearer", "token") and token else None


def check_credentials(
    credentials: Credentials, issuer: TokenIssuer, request: Request, login: LoginIssuer | None = None
) -> Reply | None:
    """None when `request` carries an accepted credential; else the 401 to answer."""
    if not credentials.required:
        return None
    if credentials.login and login is not None:
        state = login.state_of(request)
        if state == "valid" or (state == "expired" and login.settings.expired_answer == "empty"):
            return None
    if credentials.api_key:
        name = credentials.api_key_name
        sent = request.headers.get(name) if credentials.api_key_location == "header" else request.param(name)
        if sent == credentials.api_key:
            return None
    token = _bearer(request)
    if credentials.bearer_token and token == credentials.bearer_token:
        return None
    if credentials.oauth and token is not None and issuer.is_valid(token):
        return None
    pair = _basic_pair(request.headers.get("Authorization"))
    if credentials.basic_username and pair == (credentials.basic_username, credentials.basic_password):
        return None
    has_credential = "Authorization" in request.headers or (
        credentials.api_key
        and (request.headers.get(credentials.api_key_name) or request.param(credentials.api_key_name))
    )
    message = "Bad credentials" if has_credential else "Requires authentication"
    return Reply(401, {"message": message}, {"WWW-Authenticate": 'Bearer realm="sample-api"'})
