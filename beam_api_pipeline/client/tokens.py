"""Tokens got at run time (OAuth 2.0 grants, login calls), shared by every thread of a worker process.

One `TokenState` per credential (keyed by pipeline, where the token comes from and a fingerprint of the secret
that gets it) lives in a process-wide registry: every ApiClient of the process (one per DoFn instance, several
threads each) sends the same token, and a lock lets one thread at a time get a new one. `RenewedTokenAuth` holds
the rules every such token follows: get one before the first request, renew it once it is due (a margin before
it expires), and renew it once after a 401 unless another thread already has.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from beam_api_pipeline.client.auth import AuthHandler
from beam_api_pipeline.core.logging_setup import register_secrets

#: Renew this long before a token expires (at most; a quarter of the token's lifetime when that is shorter, so
#: that a short-lived token is renewed before a request that waited for its turn reaches the server with it).
REFRESH_MARGIN_SECONDS = 60.0
#: How many issued token values are remembered for redaction.
_REMEMBERED_SECRETS = 64
#: Answers from a token endpoint worth asking again.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class TokenState:
    """The current token of one credential in this process (and, for OAuth, its newest refresh token)."""

    access_token: str | None
    refresh_token: str | None
    refresh_at: float | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: list[str] = field(default_factory=list)
    grants: int = 0

    def remember(self, *values: str | None) -> None:
        """Keep token values for redaction (the most recent ones), and mask them in every log line."""
        kept = [value for value in values if value]
        self.issued.extend(kept)
        del self.issued[:-_REMEMBERED_SECRETS]
        register_secrets(kept)


_states: dict[tuple[str, ...], TokenState] = {}
_states_lock = threading.Lock()


def fingerprint(value: str | None) -> str:
    """A short digest of a secret, to key a TokenState without holding the secret in the key."""
    return hashlib.blake2b((value or "").encode(), digest_size=8).hexdigest()


def shared_token_state(key: tuple[str, ...], create: Callable[[], TokenState]) -> TokenState:
    """The process-wide TokenState for `key`, created on first use."""
    with _states_lock:
        if key not in _states:
            _states[key] = create()
        return _states[key]


def renewal_time(now: float, lifetime: float | None) -> float | None:
    """When a token valid for `lifetime` seconds from `now` is due for renewal (None: never by time)."""
    if lifetime is None:
        return None
    return now + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 4)


def reveal(secret: Any) -> str | None:
    """The value of a SecretStr, or None."""
    return secret.get_secret_value() if secret is not None else None


def json_or_empty(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object, or `{}` when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def seconds(value: Any) -> float | None:
    """A number of seconds from a JSON value (`3600`, `"3600"`), or None."""
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


class RenewedTokenAuth(AuthHandler):
    """`<header>: <headers_prefix> <token>`, the token got by `_renew` and shared by the process.

    Subclasses set `self._state` (see `shared_token_state`) and implement `_renew`, which gets a new token and
    stores it with `_store`. A token is got before the first request, renewed once `refresh_at` has passed (when
    `_renews_before_expiry`), and renewed once after a 401, unless another thread has renewed it in the meantime.
    """

    _state: TokenState
    _clock: Callable[[], float] = staticmethod(time.time)
    #: The header that carries the token.
    header = "Authorization"

    def get_auth_headers(self) -> dict[str, str]:
        state = self._state
        with state.lock:
            due = state.refresh_at is not None and self._clock() >= state.refresh_at
            if state.access_token is None or (self._renews_before_expiry() and due):
                self._renew(state)
            return {self.header: self._header_value(state.access_token)}

    def refresh_after_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        state = self._state
        with state.lock:
            if sent_headers.get(self.header) == self._header_value(state.access_token):
                self._renew(state)
        return True

    def header_names(self) -> frozenset[str]:
        return super().header_names() | {self.header.lower()}

    def secrets(self) -> list[str]:
        state = self._state
        with state.lock:
            current = [state.access_token, state.refresh_token, *state.issued]
        return [value for value in (*self._configured_secrets(), *current) if value]

    def _header_value(self, token: str | None) -> str:
        return f"{self.config.headers_prefix} {token}".strip()

    def _store(self, state: TokenState, token: str, lifetime: float | None, refresh_token: str | None = None) -> None:
        """Keep a new `token`, valid for `lifetime` seconds (None: until a 401), in `state`."""
        state.access_token = token
        state.refresh_token = refresh_token
        state.refresh_at = renewal_time(self._clock(), lifetime)
        state.remember(token, refresh_token)
        state.grants += 1

    def _renews_before_expiry(self) -> bool:
        return True

    def _configured_secrets(self) -> list[str | None]:
        """The secrets of the configuration (passwords, client secrets)."""
        return []

    def _renew(self, state: TokenState) -> None:
        """Get a new token into `state` (the caller holds `state.lock`)."""
        raise NotImplementedError
