"""Authentication handlers: one per `auth_type`, each giving the headers (or query parameters) to send."""

from __future__ import annotations

import base64
from typing import Any

from beam_api_pipeline.errors import ConfigError


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


AUTH_HANDLERS: dict[str, type[AuthHandler]] = {
    "none": AuthHandler,
    "api_key": ApiKeyAuth,
    "bearer": BearerAuth,
    "basic": BasicAuth,
}


def create_auth_handler(config: Any) -> AuthHandler:
    """The handler for `config.auth_type`."""
    handler = AUTH_HANDLERS.get(config.auth_type)
    if handler is None:
        raise ConfigError(f"api_config.auth_config.auth_type: {config.auth_type} is not supported yet")
    return handler(config)
