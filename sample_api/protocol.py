"""What the sample API's routes take and give: a parsed Request, a Reply, and the parameter readers they share."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from sample_api.data import Record, format_instant, parse_instant

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

Query = dict[str, list[str]]


class BadRequest(Exception):
    """A parameter is invalid; answered 400 with an error naming it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class Request:
    """One request as a route sees it; `origin` is `http://host:port` as the client addressed the server."""

    method: str
    path: str
    query: Query
    headers: Mapping[str, str]
    body: bytes
    origin: str

    def param(self, name: str) -> str | None:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, str]:
        """The body as an `application/x-www-form-urlencoded` form."""
        return {name: values[0] for name, values in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def json(self) -> Any:
        """The body as JSON; BadRequest when it is not."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise BadRequest("body", "not JSON") from None


@dataclass(frozen=True)
class Reply:
    """A JSON answer with its status and extra headers.

    `raw` is sent instead of the JSON of `body` (with the Content-Type in `headers`); with `drop_after`, only
    that many bytes of the body are sent before the connection is closed.
    """

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    drop_after: int | None = None

    def payload(self) -> bytes:
        """The bytes of the body."""
        return self.raw if self.raw is not None else json.dumps(self.body).encode()


def instant_param(request: Request, name: str) -> datetime | None:
    """A date-time query parameter, or None when absent."""
    return parse_instant_value(request.param(name), name)


def parse_instant_value(text: str | None, name: str) -> datetime | None:
    """`text` (named `name` in errors) as a datetime, or None when it is None."""
    if text is None:
        return None
    try:
        return parse_instant(str(text))
    except (ValueError, OverflowError, OSError):
        raise BadRequest(name, f"not an ISO 8601 date-time, date or epoch seconds: {text!r}") from None


def size_param(request: Request, name: str, default: int, maximum: int = MAX_PAGE_SIZE) -> int:
    """A positive integer parameter (capped at `maximum`), or `default` when absent."""
    return min(positive_int(request.param(name), name, default), maximum)


def positive_int(text: Any, name: str, default: int, minimum: int = 1) -> int:
    """`text` as an integer >= `minimum`, or `default` when it is None."""
    if text is None:
        return default
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = minimum - 1
    if value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise BadRequest(name, f"must be {kind}, got {text!r}")
    return value


def encode_cursor(record: Record) -> str:
    """An opaque cursor naming the last record served."""
    raw = f"{format_instant(record.updated_at)}|{record.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, name: str = "cursor") -> tuple[datetime, int]:
    """The (updated_at, id) key of the last record already served."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode()
        stamp, record_id = raw.split("|")
        return parse_instant(stamp), int(record_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        raise BadRequest(name, f"not a cursor this API issued: {text!r}") from None


def link_to(origin: str, path: str, params: Mapping[str, Any]) -> str:
    """An absolute URL on `origin`."""
    return f"{origin}{path}?{urlencode({k: v for k, v in params.items() if v is not None})}"
