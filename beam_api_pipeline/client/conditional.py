"""Conditional requests: a request that repeats is sent with the validators of its last answer (`If-None-Match`
with its `ETag`, `If-Modified-Since` with its `Last-Modified`), and a 304 answer means "nothing new here".

What keeps this safe (the watermark's invariant: nothing is passed over that was not written):
- a request's validators are kept only from a walk that its first answer completed (one page: no next page), so
  a 304 stands for the whole walk; a walk of several pages sends no conditional request;
- a request is keyed by what decides its answer (`request_key`: method, URL with its parameters, body), with
  secrets masked, so that no key holds a secret; an answer holding a record of a later window keeps no
  validators (`fetch.conditional_pages`), so a 304 in that later window never skips it;
- validators are saved in the control store with the watermark, after the rows are written, and only for
  windows that completed (`run.commit`); a run that stops before its commit leaves the validators it saw unsaved,
  and the next run reads those URLs in full;
- a `Last-Modified` is used only when the answer's `Date` is at least a second later (RFC 9110 8.8.2.2: else a
  change within the same second would go unseen); a weak ETag (`W/"..."`, as GitHub sends) is used as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any

from beam_api_pipeline.client.api_client import ApiRequest, ApiResponse, NotModified
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core import jsoncodec
from beam_api_pipeline.core.redaction import redact_text

__all__ = ["ConditionalClient", "NotModified", "Validators", "conditional_endpoints", "request_key", "validators_of"]


@dataclass(frozen=True)
class Validators:
    """What the last answer to a request said to ask again with: its `ETag` and/or `Last-Modified`."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        """The conditional request headers these validators make."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def validators_of(headers: Mapping[str, str]) -> Validators | None:
    """The validators an answer's `headers` carry (a Last-Modified only with a Date a second or more later), or
    None when it carries none that can be used."""
    found = {name.lower(): value for name, value in headers.items()}
    etag = found.get("etag") or None
    last_modified = found.get("last-modified") or None
    if last_modified is not None and not _a_second_before(last_modified, found.get("date")):
        last_modified = None
    if etag is None and last_modified is None:
        return None
    return Validators(etag, last_modified)


def _a_second_before(last_modified: str, date: str | None) -> bool:
    """Whether the HTTP dates say `last_modified` is at least one second before `date` (False if unreadable)."""
    if date is None:
        return False
    try:
        return (parsedate_to_datetime(date) - parsedate_to_datetime(last_modified)).total_seconds() >= 1
    except (TypeError, ValueError):
        return False


def request_key(request: ApiRequest, client: Any, masked: Iterable[str] = ()) -> str:
    """The key of `request`'s validators: method, URL with its parameters in order and a digest of its body, with
    secrets masked: `client`'s (an ApiClient) and `masked` (the values the config's references resolved to)
    anywhere, and secret parameters by name (`redacted_url`)."""
    url = client.redacted_url(request.url, sorted(request.params.items()))
    key = redact_text(client.redact(f"{request.method} {url}"), masked)
    if request.json_body is not None:
        body = redact_text(client.redact(jsoncodec.dumps(request.json_body)), masked)
        key += " body:" + hashlib.sha256(body.encode()).hexdigest()[:16]
    return key


def conditional_endpoints(config: PipelineConfig) -> frozenset[str]:
    """The endpoints that may send conditional requests: `conditional_requests` true, or unset while no output
    truncates its table (`PipelineConfig.truncated_outputs`)."""
    truncates = bool(config.truncated_outputs())
    return frozenset(
        name
        for name, endpoint in config.api_config.endpoints.items()
        if endpoint.conditional_requests or (endpoint.conditional_requests is None and not truncates)
    )


class ConditionalClient:
    """An ApiClient that sends each request with `validators`' headers; a 304 raises NotModified (not retried).
    Handed to an extractor's `fetch_page` for the first page of a walk whose request has stored validators."""

    def __init__(self, client: Any, validators: Validators):
        self._client = client
        self._headers = validators.headers()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send(self, request: ApiRequest, on_retry=None, read: Callable[[ApiResponse], Any] | None = None) -> Any:
        conditional = replace(request, headers={**request.headers, **self._headers})
        return self._client.send(conditional, on_retry=on_retry, read=read)
