"""Authentication handlers with static credentials (none, api_key, bearer, basic); tokens got at run time are in
`tokens` (OAuth 2.0 in `oauth`, login calls in `login`)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


class AuthHandler:
    """No authentication; the base of every handler."""

    def __init__(self, config: Any):
        self.config = config

    def get_auth_headers(self) -> dict[str, str]:
        """Headers to add to each request."""
        return {}

    def get_auth_params(self) -> dict[str, str]:
        """Query parameters to add to each request."""
        return {}

    def secrets(self) -> list[str]:
        """The secret values this handler sends, so that they can be redacted wherever they might show."""
        return []

    def header_names(self) -> frozenset[str]:
        """The (lower-case) names of the headers that carry credentials: never sent across hosts on redirects."""
        return frozenset({"authorization"})

    def refresh_after_unauthorized(self, sent_headers: Mapping[str, str]) -> bool:
        """A request sent with `sent_headers` was answered 401: renew the credentials if this handler can,
        and say whether the request is worth sending once more."""
        return False

    def unauthorized_hint(self) -> str:
        """What to check when a request is refused (401) even with renewed credentials; appended to the error."""
        return ""


class ApiKeyAuth(AuthHandler):
    """An API key in a header or a query parameter."""

    def _key(self) -> str:
        return self.config.auth_credentials.key.get_secret_value()

    def get_auth_headers(self) -> dict[str, str]:
        credentials = self.config.auth_credentials
        return {credentials.name: self._key()} if credentials.location == "header" else {}

    def get_auth_params(self) -> dict[str, str]:
        credentials = self.config.auth_credentials
        return {credentials.name: self._key()} if credentials.location == "query" else {}

    def header_names(self) -> frozenset[str]:
        return super().header_names() | {self.config.auth_credentials.name.lower()}

    def secrets(self) -> list[str]:
        return [self._key()]


class BearerAuth(AuthHandler):
    """A static token sent as `Authorization: <headers_prefix> <token>`."""

    def _token(self) -> str:
        return self.config.auth_credentials.token.get_secret_value()

    def get_auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"{self.config.headers_prefix} {self._token()}".strip()}

    def secrets(self) -> list[str]:
        return [self._token()]


class BasicAuth(AuthHandler):
    """HTTP Basic authentication."""

    def _encoded(self) -> str:
        credentials = self.config.auth_credentials
        pair = f"{credentials.username}:{credentials.password.get_secret_value()}"
        return base64.b64encode(pair.encode()).decode()

    def get_auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Basic {self._encoded()}"}

    def secrets(self) -> list[str]:
        return [self.config.auth_credentials.password.get_secret_value(), self._encoded()]
