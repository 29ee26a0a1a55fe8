"""Conditional requests: a request that repeats is sent with the validators of its last answer (`If-None-Match`
with its `ETag`, `If-Modified-Since` with its `Last-Modified`), and a 304 answer means "nothing new here".

What keeps this safe (the watermark's invariant: nothing is passed over that was not written):
- a request's validators are kept only from a walk that its first answer completed (one page: no next page), so
  a 304 stands for the whole walk; a walk of several pages sends no conditional request;
- a request is keyed by a digest of what decides its answer (`request_key`: method, URL with its parameters,
  body), so that no key holds a secret and no two requests share one; an answer holding a record of a later
  window keeps no validators (`fetch.conditional_pages`), so a 304 in that later window never skips it;
- validators are saved in the control store with the watermark, after the rows are written, and only for
  windows the watermark has passed, of their endpoint and of every endpoint below it (`run.commit`); a run that
  stops before its commit leaves the validators it saw unsaved, and the next run reads those URLs in full;
- a run that reads again on purpose (a backfill, a replay) sends none (`without_conditional_requests`), nor does
  an endpoint whose checks judge a window's rows together (`conditional_endpoints`);
- which validators an answer gives: `validators`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests

from beam_api_pipeline.client.api_client import ApiRequest, ApiResponse
from beam_api_pipeline.client.validators import Validators
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core import jsoncodec

__all__ = ["ConditionalClient", "conditional_endpoints", "request_key", "without_conditional_requests"]


def request_key(request: ApiRequest) -> str:
    """The key of `request`'s validators: the SHA-256 hex digest of what decides its answer, as sent (before
    authentication): its method, its URL with every parameter decoded and in sorted order, and its JSON body. A
    digest holds no secret, and two requests that differ in any value (one a `${...}` reference resolved to, say)
    get two keys."""
    prepared = requests.models.PreparedRequest()
    prepared.prepare_url(request.url, request.params)
    url = urlsplit(prepared.url)
    params = sorted(parse_qsl(url.query, keep_blank_values=True))
    form = [request.method, urlunsplit((url.scheme, url.netloc, url.path, "", "")), params, request.json_body]
    return hashlib.sha256(jsoncodec.canonical(form)).hexdigest()


def conditional_endpoints(config: PipelineConfig) -> frozenset[str]:
    """The endpoints that may send conditional requests: those with `conditional_requests` true or unset, unless
    an output truncates its table (`PipelineConfig.truncated_outputs`: a 304 would leave it empty) or the
    endpoint has a `row_count` or `freshness` check (`EndpointConfig.window_checks`: a window answered 304 has no
    rows, and would fail them on every read of it). `true` is refused with either (config load)."""
    if config.truncated_outputs():
        return frozenset()
    return frozenset(
        name
        for name, endpoint in config.api_config.endpoints.items()
        if endpoint.conditional_requests is not False and not endpoint.window_checks()
    )


def without_conditional_requests(config: PipelineConfig) -> PipelineConfig:
    """`config` with `conditional_requests: false` on every endpoint: for a run that reads again on purpose (a
    `--backfill`, a `replay` of a dead letter), where a 304 must not stand in for the rows it is meant to write."""
    api = config.api_config
    endpoints = {name: ep.model_copy(update={"conditional_requests": False}) for name, ep in api.endpoints.items()}
    return config.model_copy(update={"api_config": api.model_copy(update={"endpoints": endpoints})})


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
