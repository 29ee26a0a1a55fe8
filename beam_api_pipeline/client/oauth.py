"""OAuth 2.0 access tokens (`auth_type: oauth2`), shared by every thread of a worker process.

One `TokenState` per (pipeline, token URL, client, initial grant secret) lives in a process-wide registry:
every ApiClient of the process (one per DoFn instance, several threads each) uses the same token, and a lock
lets one thread at a time ask for a new one. Servers that rotate refresh tokens answer each refresh with a
new refresh token and refuse the old one from then on: the state keeps the newest and always uses it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from beam_api_pipeline import metrics
from beam_api_pipeline.client.auth import AuthHandler
from beam_api_pipeline.client.redaction import redact_url
from beam_api_pipeline.errors import ApiError, RetryableApiError

logger = logging.getLogger(__name__)

#: Refresh this long before a token expires (at most; a tenth of the token's lifetime when that is shorter).
REFRESH_MARGIN_SECONDS = 60.0
#: How many issued token values are remembered for redaction.
_REMEMBERED_SECRETS = 64
_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class TokenState:
    """The current access token of one OAuth client in this process, and its newest refresh token."""

    access_token: str | None
    refresh_token: str | None
    refresh_at: float | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: list[str] = field(default_factory=list)
    grants: int = 0

    def remember(self, *values: str | None) -> None:
        """Keep token values for redaction (the most recent ones)."""
        self.issued.extend(value for value in values if value)
        del self.issued[:-_REMEMBERED_SECRETS]


_states: dict[tuple[str, ...], TokenState] = {}
_states_lock = threading.Lock()


def _fingerprint(value: str | None) -> str:
    return hashlib.blake2b((value or "").encode(), digest_size=8).hexdigest()


def shared_token_state(key: tuple[str, ...], create: Callable[[], TokenState]) -> TokenState:
    """The process-wide TokenState for `key`, created on first use."""
    with _states_lock:
        if key not in _states:
            _states[key] = create()
        return _states[key]


class OAuth2Auth(AuthHandler):
    """`Authorization: <headers_prefix> <access token>`, the token got and refreshed from `token_url`.

    With `auto_refresh` a token is refreshed shortly before it expires; a 401 always earns one refresh and
    one more attempt (`refresh_after_unauthorized`), unless another thread has refreshed in the meantime.
    """

    def __init__(
        self,
        config: Any,
        pipeline_id: str = "",
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        verify_ssl: bool = True,
    ):
        super().__init__(config)
        self._credentials = config.auth_credentials
        self._timeout = timeout
        self._clock = clock
        self._verify_ssl = verify_ssl
        creds = self._credentials
        grant_secret = creds.refresh_token if creds.grant_type == "refresh_token" else creds.client_secret
        key = (pipeline_id, creds.token_url, creds.client_id, _fingerprint(_reveal(grant_secret)))
        self._state = shared_token_state(key, self._initial_state)

    def _initial_state(self) -> TokenState:
        creds = self._credentials
        expiry = creds.token_expiry.timestamp() - REFRESH_MARGIN_SECONDS if creds.token_expiry else None
        state = TokenState(_reveal(creds.access_token), _reveal(creds.refresh_token), expiry)
        return state

    def get_auth_headers(self) -> dict[str, str]:
        state = self._state
        with state.lock:
            due = state.refresh_at is not None and self._clock() >= state.refresh_at
            if state.access_token is None or (self._credentials.auto_refresh and due):
                self._grant(state)
            return {"Authorization": self._header(state.access_token)}

    def refresh_after_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        state = self._state
        with state.lock:
            if sent_headers.get("Authorization") == self._header(state.access_token):
                self._grant(state)
        return True

    def secrets(self) -> list[str]:
        creds = self._credentials
        configured = [_reveal(creds.client_secret), _reveal(creds.refresh_token), _reveal(creds.access_token)]
        state = self._state
        with state.lock:
            current = [state.access_token, state.refresh_token, *state.issued]
        return [value for value in (*configured, *current) if value]

    def _header(self, token: str | None) -> str:
        return f"{self.config.headers_prefix} {token}".strip()

    def _grant(self, state: TokenState) -> None:
        """Ask `token_url` for a new access token (the caller holds `state.lock`)."""
        creds = self._credentials
        form = {"grant_type": creds.grant_type, "client_id": creds.client_id}
        if creds.client_secret is not None:
            form["client_secret"] = creds.client_secret.get_secret_value()
        if creds.grant_type == "refresh_token":
            form["refresh_token"] = state.refresh_token or ""
        if creds.scope:
            form["scope"] = creds.scope
        where = f"OAuth2 token request to {redact_url(creds.token_url)}"
        try:
            response = requests.post(
                creds.token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
                verify=self._verify_ssl,
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise RetryableApiError(f"{where} failed: {type(error).__name__}") from None
        body = _json_or_empty(response)
        if response.status_code in _TRANSIENT_STATUSES:
            raise RetryableApiError(f"{where} answered {response.status_code}", status=response.status_code)
        if response.status_code >= 400 or not body.get("access_token"):
            raise ApiError(f"{where} answered {response.status_code}: {_oauth_problem(body)}", status=401)
        state.access_token = str(body["access_token"])
        state.refresh_token = str(body.get("refresh_token") or state.refresh_token or "") or None
        lifetime = _seconds(body.get("expires_in"))
        now = self._clock()
        state.refresh_at = None if lifetime is None else now + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 10)
        state.remember(state.access_token, state.refresh_token)
        state.grants += 1
        metrics.TOKEN_GRANTS.inc()
        logger.info("OAuth2: new access token from %s (expires in %s s)", redact_url(creds.token_url), lifetime)


def _reveal(secret: Any) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _oauth_problem(body: dict[str, Any]) -> str:
    """`invalid_grant (the refresh token ...)` from an RFC 6749 error answer, with advice for the common cases."""
    error = body.get("error")
    if not error:
        return "no access_token in the answer"
    text = f"{error} ({body['error_description']})" if body.get("error_description") else str(error)
    if error == "invalid_grant":
        text += "; the refresh token was refused: it may have expired or been used already (rotating refresh tokens)"
    elif error == "invalid_client":
        text += "; check client_id and client_secret"
    return text
