"""ApiClient: one requests.Session with authentication, limits and the retry policy around each request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from beam_api_pipeline import metrics
from beam_api_pipeline.errors import ApiError, RateLimitedError, RetryableApiError
from beam_api_pipeline.http.auth import AuthHandler
from beam_api_pipeline.http.limits import RequestLimits
from beam_api_pipeline.http.redaction import redact_text, redact_url
from beam_api_pipeline.http.retry import RetryPolicy, parse_retry_after

logger = logging.getLogger(__name__)

_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_BODY_EXCERPT = 200


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request, before authentication."""

    method: str
    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json_body: Any = None


@dataclass(frozen=True)
class ApiResponse:
    """A decoded answer: status, headers and the JSON body."""

    status: int
    headers: Mapping[str, str]
    body: Any
    url: str


class ApiClient:
    """Sends ApiRequests with the configured timeout, auth, limits and retries; decodes JSON answers."""

    def __init__(
        self,
        *,
        timeout: float,
        headers: Mapping[str, str],
        retry_on: list[int],
        retry_policy: RetryPolicy,
        auth: AuthHandler,
        limits: RequestLimits,
        pool_size: int = 10,
        verify_ssl: bool = True,
    ):
        self._timeout = timeout
        self._retry_on = frozenset(retry_on)
        self._retry_policy = retry_policy
        self._auth = auth
        self._limits = limits
        self._session = requests.Session()
        self._session.verify = verify_ssl
        self._session.headers.update(headers)
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._secrets = [value for value in auth.secrets() if value]
        self._secret_params = list(auth.get_auth_params())

    def close(self) -> None:
        """Close the session and its pooled connections."""
        self._session.close()

    def redact(self, text: str) -> str:
        """`text` with this client's secrets masked."""
        return redact_text(text, self._secrets)

    def send(self, request: ApiRequest, on_retry: Callable[[BaseException, float], None] | None = None) -> ApiResponse:
        """Send `request`, retrying transient failures; raises ApiError when it cannot succeed."""

        def retried(error: BaseException, wait: float) -> None:
            metrics.RETRIES.inc()
            logger.info("retrying %s in %.1fs: %s", self._describe(request), wait, error)
            if on_retry is not None:
                on_retry(error, wait)

        return self._retry_policy.call(lambda: self._send_once(request), on_retry=retried)

    def _describe(self, request: ApiRequest) -> str:
        """`METHOD url?params` with secrets masked, for logs and errors."""
        prepared = requests.models.PreparedRequest()
        prepared.prepare_url(request.url, request.params)
        return f"{request.method} {redact_url(prepared.url, self._secret_params)}"

    def _send_once(self, request: ApiRequest) -> ApiResponse:
        params = {**request.params, **self._auth.get_auth_params()}
        with self._limits.request_slot():
            metrics.REQUESTS.inc()
            started = time.monotonic()
            try:
                response = self._session.request(
                    request.method,
                    request.url,
                    params=params,
                    json=request.json_body,
                    headers=self._auth.get_auth_headers(),
                    timeout=self._timeout,
                )
                content = response.content
            except _TRANSIENT_ERRORS as error:
                raise RetryableApiError(f"{self._describe(request)} failed: {type(error).__name__}") from None
            finally:
                metrics.REQUEST_LATENCY_MS.update(int((time.monotonic() - started) * 1000))
        self._limits.observe(response.status_code, response.headers)
        return self._decode(request, response, content)

    def _decode(self, request: ApiRequest, response: requests.Response, content: bytes) -> ApiResponse:
        status = response.status_code
        if status == 429 and status in self._retry_on:
            metrics.RATE_LIMITED.inc()
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimitedError(f"{self._describe(request)} answered 429 Too Many Requests", retry_after=retry_after)
        if status in self._retry_on:
            raise RetryableApiError(f"{self._describe(request)} answered {status}", status=status)
        if status >= 400:
            excerpt = self.redact(content[:_BODY_EXCERPT].decode("utf-8", "replace")).strip()
            raise ApiError(f"{self._describe(request)} answered {status}: {excerpt}", status=status)
        try:
            body = response.json() if content.strip() else None
        except ValueError:
            raise ApiError(f"{self._describe(request)} answered {status} with a body that is not JSON") from None
        return ApiResponse(status=status, headers=dict(response.headers), body=body, url=response.url)
