"""How requests are authenticated: ``api_config.auth_config``, one model per ``auth_type``.

Every secret is a ``SecretStr`` (hidden from ``repr`` and logs) and may be a ``${env:}``, ``${file:}`` or
``${secret:}`` reference, resolved on the worker at run time.
"""

from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from .base import StrictModel, rule_error
from .fields import PositiveDuration, Secret, UtcDatetime

_DEFAULT_PORTS = {"http": 80, "https": 443}


def url_origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, with the scheme's default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return f"{scheme}://{(parts.hostname or '').lower()}:{parts.port or _DEFAULT_PORTS.get(scheme, 0)}"


class NoCredentials(StrictModel):
    """``auth_type: none`` takes no credentials; an empty mapping (or nothing) is accepted."""


class ApiKeyCredentials(StrictModel):
    """A key sent as the header (or query parameter) ``name``."""

    key: Secret
    name: str = "X-API-Key"
    location: Literal["header", "query"] = "header"


class BearerCredentials(StrictModel):
    """A static token, sent as ``Authorization: <headers_prefix> <token>``."""

    token: Secret


class BasicCredentials(StrictModel):
    """HTTP basic authentication."""

    username: str
    password: Secret


class OAuthConfig(StrictModel):
    """OAuth 2.0: a token from ``token_url``, refreshed before ``token_expiry`` if ``auto_refresh``."""

    token_url: str
    client_id: str
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    access_token: Secret | None = None
    token_expiry: UtcDatetime | None = None
    auto_refresh: bool = True
    grant_type: Literal["refresh_token", "client_credentials"] = "refresh_token"
    scope: str | None = None

    @model_validator(mode="after")
    def _grant_has_its_secret(self) -> Self:
        required = "refresh_token" if self.grant_type == "refresh_token" else "client_secret"
        if getattr(self, required) is None:
            raise rule_error(f"required when grant_type is {self.grant_type}", required)
        return self


class LoginCredentials(StrictModel):
    """A login call: ``username`` and ``password`` (and any fixed ``body`` fields) POSTed to ``login_path`` as
    JSON or a form; the token is read at ``token_path`` in the JSON answer and sent in ``header``.

    The token is renewed before it expires: after the seconds at ``expires_in_path``, else at the token's own JWT
    ``exp``, else after ``lifetime``; and once after a 401.
    """

    login_path: str
    username: str
    password: Secret
    username_field: str = "username"
    password_field: str = "password"
    body: dict[str, str | int | float | bool] = Field(default_factory=dict)
    body_format: Literal["json", "form"] = "json"
    token_path: str
    expires_in_path: str | None = None
    lifetime: PositiveDuration | None = None
    header: str = "Authorization"

    @model_validator(mode="after")
    def _body_leaves_the_credentials_alone(self) -> Self:
        clash = sorted({self.username_field, self.password_field} & set(self.body))
        if clash:
            raise rule_error(f"{clash[0]!r} is already the username_field or password_field", "body")
        if self.username_field == self.password_field:
            raise rule_error("must differ from username_field", "password_field")
        return self

    def login_url(self, base_url: str) -> str:
        """``login_path`` below ``base_url``, or ``login_path`` itself when it is a URL."""
        if self.login_path.startswith(("http://", "https://")):
            return self.login_path
        return base_url.rstrip("/") + "/" + self.login_path.lstrip("/")

    def login_origin_problem(self, base_url: str) -> str | None:
        """Why the login call would go to another host than ``base_url``'s (None when it would not)."""
        url = self.login_url(base_url)
        if "${" in url or url_origin(url) == url_origin(base_url):
            return None
        return (
            f"{url_origin(url)} is not base_url's origin {url_origin(base_url)}; "
            "the login call only goes to the API's own host"
        )

    @model_validator(mode="after")
    def _login_path_is_a_path_or_an_http_url(self) -> Self:
        path = self.login_path
        if "${" not in path and "://" in path and not path.startswith(("http://", "https://")):
            raise rule_error("must be a path below base_url, or an http:// or https:// URL", "login_path")
        return self


class _AuthBase(StrictModel):
    """What every auth type has: its tag, and the word before the token in the ``Authorization`` header."""

    auth_type: str  # narrowed to one literal by each subclass; declared here to come first in a dump
    headers_prefix: str = "Bearer"


class NoAuthConfig(_AuthBase):
    """Requests are sent without credentials."""

    auth_type: Literal["none"] = "none"
    auth_credentials: NoCredentials | None = None


class ApiKeyAuthConfig(_AuthBase):
    """``auth_type: api_key``."""

    auth_type: Literal["api_key"] = "api_key"
    auth_credentials: ApiKeyCredentials


class BearerAuthConfig(_AuthBase):
    """``auth_type: bearer``."""

    auth_type: Literal["bearer"] = "bearer"
    auth_credentials: BearerCredentials


class BasicAuthConfig(_AuthBase):
    """``auth_type: basic``."""

    auth_type: Literal["basic"] = "basic"
    auth_credentials: BasicCredentials


class OAuth2AuthConfig(_AuthBase):
    """``auth_type: oauth2``."""

    auth_type: Literal["oauth2"] = "oauth2"
    auth_credentials: OAuthConfig


class LoginAuthConfig(_AuthBase):
    """``auth_type: login``; ``headers_prefix`` is the word before the token (empty: the bare token)."""

    auth_type: Literal["login"] = "login"
    auth_credentials: LoginCredentials


#: ``api_config.auth_config``: one of the models above, chosen by ``auth_type``.
AuthConfig = Annotated[
    NoAuthConfig | ApiKeyAuthConfig | BearerAuthConfig | BasicAuthConfig | OAuth2AuthConfig | LoginAuthConfig,
    Field(discriminator="auth_type"),
]
