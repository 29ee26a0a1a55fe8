"""Keeping secrets out of logs, errors and dead letters."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth",
        "client_secret",
        "code",
        "key",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "token",
    }
)


def redact_url(url: str, extra_params: Iterable[str] = ()) -> str:
    """The URL with user info and the values of sensitive query parameters replaced by `***`."""
    parts = urlsplit(url)
    sensitive = SENSITIVE_PARAMS | {name.lower() for name in extra_params}
    query = [
        (name, MASK if name.lower() in sensitive else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe=MASK), parts.fragment))


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret value replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
