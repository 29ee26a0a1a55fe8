"""Tokens from a login call (`auth_type: login`), as self-hosted APIs hand them out (PocketBase, Directus, Strapi).

The username and password are POSTed to `login_path` (JSON or a form); the token is read at `token_path` in the
answer and sent in `header`. Many such APIs answer an expired token with `200` and an empty list rather than a
401, so the token is renewed before it expires, never only after: its lifetime is the seconds at
`expires_in_path`, else its own JWT `exp`, else the configured `lifetime`. The token, the password and the login
body never show in logs or errors; the rules shared with OAuth 2.0 (one token per process, renew before expiry
and once on a 401) are `client.tokens`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from beam_api_pipeline.client.tokens import (
    TRANSIENT_STATUSES,
    RenewedTokenAuth,
    TokenState,
    fingerprint,
    json_or_empty,
    seconds,
    shared_token_state,
)
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.errors import ApiError, ConfigError, RetryableApiError
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.redaction import redact_text, redact_url

logger = logging.getLogger(__name__)

_EXCERPT = 200
_WHERE = "api_config.auth_config.auth_credentials"


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT, read without checking its signature; None for other tokens."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return seconds(payload.get("exp")) if isinstance(payload, dict) else None


def token_lifetime(credentials: Any, answer: dict[str, Any], token: str, now: float) -> float | None:
    """Seconds the token is valid from `now`: `expires_in_path`, else the JWT `exp`, else `lifetime` (None: no
    rule says, the token is renewed on a 401 only)."""
    if credentials.expires_in_path:
        expires_in = seconds(get_path(answer, credentials.expires_in_path))
        if expires_in is not None:
            return expires_in
    expiry = jwt_expiry(token)
    if expiry is not None:
        return max(0.0, expiry - now)
    return credentials.lifetime.total_seconds() if credentials.lifetime is not None else None


class LoginAuth(RenewedTokenAuth):
    """`<header>: <headers_prefix> <token>`, the token got from a login call and shared by the process."""

    def __init__(
        self,
        config: Any,
        base_url: str,
        pipeline_id: str = "",
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        verify_ssl: bool = True,
    ):
        super().__init__(config)
        self._credentials = creds = config.auth_credentials
        self.header = creds.header
        problem = creds.login_origin_problem(base_url)
        if problem is not None:
            raise ConfigError(f"{_WHERE}.login_path: {problem}")
        self._url = creds.login_url(base_url)
        self._timeout = timeout
        self._clock = clock
        self._verify_ssl = verify_ssl
        key = ("login", pipeline_id, self._url, creds.username, fingerprint(self._password()))
        self._state = shared_token_state(key, lambda: TokenState(None, None, None))

    def _password(self) -> str:
        return self._credentials.password.get_secret_value()

    def _configured_secrets(self) -> list[str | None]:
        return [self._password()]

    def unauthorized_hint(self) -> str:
        return (
            f"; the login itself succeeded, so check how the token is sent ({_WHERE}.header, "
            "api_config.auth_config.headers_prefix) and that the user may read this path"
        )

    def _renew(self, state: TokenState) -> None:
        """POST the credentials to the login path and keep the token of the answer (`state.lock` is held)."""
        creds = self._credentials
        body = {**creds.body, creds.username_field: creds.username, creds.password_field: self._password()}
        where = f"login to {redact_url(self._url)} as {creds.username}"
        try:
            response = requests.post(
                self._url,
                **({"json": body} if creds.body_format == "json" else {"data": body}),
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
                verify=self._verify_ssl,
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise RetryableApiError(f"{where} failed: {type(error).__name__}") from None
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            raise RetryableApiError(f"{where} answered {status}", status=status)
        if status >= 400:
            excerpt = redact_text(response.text[:_EXCERPT], [self._password(), *state.issued]).strip()
            raise ApiError(f"{where} answered {status}: {excerpt}; check username and password", status=401)
        answer = json_or_empty(response)
        token = get_path(answer, creds.token_path)
        if not isinstance(token, str) or not token:
            keys = ", ".join(sorted(answer)) or "none, the answer is not a JSON object"
            raise ApiError(
                f"{where} answered {status} without a token at token_path {creds.token_path!r} "
                f"(its top-level keys: {keys})",
                status=401,
            )
        lifetime = token_lifetime(creds, answer, token, self._clock())
        self._store(state, token, lifetime)
        metrics.LOGINS.inc()
        if lifetime is None and state.grants == 1:  # the process's first login: warn once
            logger.warning(
                "%s: the answer says nothing of when the token expires (no expires_in_path value, not a JWT with "
                "exp), so it is renewed only after a 401; set %s.lifetime if an expired token is answered otherwise",
                where,
                _WHERE,
            )
        logger.info("%s: new token (expires in %s s)", where, lifetime)
