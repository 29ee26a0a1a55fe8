"""ApiClient: one requests.Session with authentication, limits and the retry policy around each request.

Credentials never leave the API's host: on a redirect to another host (scheme, host or port), every header
that carries them is dropped, not only `Authorization` (which is all `requests` drops by itself). Every
message the client makes has the auth handler's secrets masked, including tokens obtained at run time.

A 304 answers a conditional request (`conditional`: one that carries If-None-Match or If-Modified-Since) with
"nothing new here": it raises NotModified, which is neither an error nor retried.

A successful status whose body is empty (other than 204) or not JSON (an HTML page from a proxy, JSON cut
short) is retried like a dropped connection: such answers come from overloaded gateways and caches, and
reading them as "no records" would lose a page without a trace. A 204 is decoded with no body; `send`'s `read`
(the extractor's `read_page`) decides whether that, or any other answer, is a page, inside the retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import HTTPAdapter

from beam_api_pipeline.client.auth import AuthHandler
from beam_api_pipeline.client.limits import RequestLimits
from beam_api_pipeline.client.rate_headers import remaining_requests, seconds_until_reset
from beam_api_pipeline.client.retry import RetryPolicy, parse_retry_after
from beam_api_pipeline.core import jsoncodec, metrics
from beam_api_pipeline.core.errors import ApiError, RateLimitedError, RetryableApiError
from beam_api_pipeline.core.redaction import redact_text, redact_url

logger = logging.getLogger(__name__)

_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_BODY_EXCERPT = 200
#: The request headers that make a request conditional (lower case).
_CONDITIONAL_HEADERS = frozenset({"if-none-match", "if-modified-since"})


class NotModified(Exception):
    """The API answered 304 to a conditional request: the answer is the one its validators came from."""


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request, before authentication."""

    method: str
    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json_body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiResponse:
    """A decoded answer: status, headers and the JSON body."""

    status: int
    headers: Mapping[str, str]
    body: Any
    url: str


class CredentialSafeSession(requests.Session):
    """A Session that, on a redirect to another host, drops every header in `credential_headers`."""

    def __init__(self, credential_headers: frozenset[str]):
        super().__init__()
        self.credential_headers = frozenset(name.lower() for name in credential_headers)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in [name for name in prepared_request.headers if name.lower() in self.credential_headers]:
                del prepared_request.headers[name]


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
        self._session = CredentialSafeSession(auth.header_names())
        self._session.verify = verify_ssl
        if not verify_ssl:
            logger.warning(
                "api_config.verify_ssl is false: TLS certificates are not checked, so anyone on the network path "
                "can read and change this pipeline's requests, credentials included"
            )
        self._session.headers.update(headers)
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._secret_params = list(auth.get_auth_params())

    def close(self) -> None:
        """Close the session and its pooled connections."""
        self._session.close()

    def redact(self, text: str) -> str:
        """`text` with this client's secrets (those configured and those obtained since) masked."""
        return redact_text(text, self._auth.secrets())

    def send(
        self,
        request: ApiRequest,
        on_retry: Callable[[BaseException, float], None] | None = None,
        read: Callable[[ApiResponse], Any] | None = None,
    ) -> Any:
        """Send `request`, retrying transient failures; raises ApiError when it cannot succeed. With `read`, what
        `read` makes of the answer, inside the retries: a RetryableApiError it raises (a page with no records
        where records were expected) has the request sent again."""

        def retried(error: BaseException, wait: float) -> None:
            metrics.RETRIES.inc()
            logger.info("retrying %s in %.1fs: %s", self._describe(request), wait, error)
            if on_retry is not None:
                on_retry(error, wait)

        if read is None:
            return self._retry_policy.call(lambda: self._send_once(request), on_retry=retried)
        return self._retry_policy.call(lambda: read(self._send_once(request)), on_retry=retried)

    def _describe(self, request: ApiRequest) -> str:
        """`METHOD url?params` with secrets masked, for logs and errors."""
        prepared = requests.models.PreparedRequest()
        prepared.prepare_url(request.url, request.params)
        return f"{request.method} {redact_url(prepared.url, self._secret_params)}"

    def _send_once(self, request: ApiRequest) -> ApiResponse:
        response, content, sent_headers = self._exchange(request)
        if response.status_code == 401 and self._auth.refresh_after_unauthorized(sent_headers):
            metrics.UNAUTHORIZED_RETRIES.inc()
            logger.info("%s answered 401: sending it again with renewed credentials", self._describe(request))
            response, content, _ = self._exchange(request)
            if response.status_code == 401:
                raise ApiError(
                    f"{self._describe(request)} answered 401 again with renewed credentials: "
                    f"{self._excerpt(content)}{self._auth.unauthorized_hint()}",
                    status=401,
                )
        return self._decode(request, response, content)

    def _excerpt(self, content: bytes) -> str:
        """The start of an answer's body, secrets masked."""
        return self.redact(content[:_BODY_EXCERPT].decode("utf-8", "replace")).strip()

    def _exchange(self, request: ApiRequest) -> tuple[requests.Response, bytes, dict[str, str]]:
        """One HTTP exchange: the response, its body, and the auth headers it was sent with."""
        in_url = {name for name, _ in parse_qsl(urlsplit(request.url).query, keep_blank_values=True)}
        auth_params = {name: value for name, value in self._auth.get_auth_params().items() if name not in in_url}
        with self._limits.request_slot():
            auth_headers = self._auth.get_auth_headers()  # once the slot is held: a token renewed in time is sent
            metrics.REQUESTS.inc()
            metrics.REQUEST_SENT_MS.update(int(time.time() * 1000))
            started = time.monotonic()
            try:
                response = self._session.request(
                    request.method,
                    request.url,
                    params={**request.params, **auth_params},
                    json=request.json_body,
                    headers={**request.headers, **auth_headers},
                    timeout=self._timeout,
                    verify=self._session.verify,  # else REQUESTS_CA_BUNDLE in the environment would override it
                )
                content = response.content
            except requests.exceptions.SSLError:
                raise ApiError(
                    f"{self._describe(request)} failed: the server's TLS certificate was not accepted; fix the "
                    "certificate, or (for a test server only) set api_config.verify_ssl: false"
                ) from None
            except _TRANSIENT_ERRORS as error:
                reason = f"{type(error).__name__} ({self._transient_reason(error)})"
                raise RetryableApiError(f"{self._describe(request)} failed: {reason}") from None
            finally:
                metrics.REQUEST_LATENCY_MS.update(int((time.monotonic() - started) * 1000))
        self._limits.observe(response.status_code, response.headers)
        return response, content, auth_headers

    def _transient_reason(self, error: BaseException) -> str:
        if isinstance(error, requests.Timeout):
            return f"no answer within the {self._timeout:g} s timeout"
        if isinstance(error, requests.exceptions.ChunkedEncodingError):
            return "the connection dropped before the whole body arrived"
        return "could not connect, or the connection was reset"

    def _decode(self, request: ApiRequest, response: requests.Response, content: bytes) -> ApiResponse:
        status = response.status_code
        if 429 in self._retry_on and _is_rate_limited(response):
            metrics.RATE_LIMITED.inc()
            message = f"{self._describe(request)} answered {status}: rate limited"
            raise RateLimitedError(message, retry_after=_rate_limit_wait(response))
        if status in self._retry_on:
            raise RetryableApiError(f"{self._describe(request)} answered {status}", status=status)
        if status == 304 and _CONDITIONAL_HEADERS & {name.lower() for name in request.headers}:
            metrics.NOT_MODIFIED.inc()
            raise NotModified(f"{self._describe(request)} answered 304 Not Modified")
        if status >= 400:
            excerpt = self._excerpt(content)
            raise ApiError(f"{self._describe(request)} answered {status}: {excerpt}", status=status)
        if not content.strip():
            if status == 204:
                return ApiResponse(status=status, headers=dict(response.headers), body=None, url=response.url)
            raise RetryableApiError(f"{self._describe(request)} answered {status} with an empty body", status=status)
        try:
            body = jsoncodec.loads(_declared_text(response, content))
        except ValueError as error:
            content_type = response.headers.get("Content-Type") or "no Content-Type"
            excerpt = self._excerpt(content)
            raise RetryableApiError(
                f"{self._describe(request)} answered {status} with a body that is not JSON ({content_type}; "
                f"{error}): {excerpt!r}",
                status=status,
            ) from None
        return ApiResponse(status=status, headers=dict(response.headers), body=body, url=response.url)


def _declared_text(response: requests.Response, content: bytes) -> bytes | str:
    """The body as JSON text: the bytes themselves (UTF-8, or a UTF-16/32 the decoder recognizes), or decoded
    with the charset the answer's Content-Type declares when that is another one."""
    message = Message()
    message["Content-Type"] = response.headers.get("Content-Type", "")
    charset = message.get_content_charset()
    if charset is None or charset.replace("_", "-") in ("utf-8", "utf8", "utf-16", "utf-32"):
        return content
    try:
        return content.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return content


def _is_rate_limited(response: requests.Response) -> bool:
    """A 429, or a 403 that says it is a rate limit (GitHub: no requests remaining, or `Retry-After`)."""
    if response.status_code == 429:
        return True
    headers = response.headers
    return response.status_code == 403 and (remaining_requests(headers) == 0 or headers.get("Retry-After") is not None)


def _rate_limit_wait(response: requests.Response) -> float | None:
    """Seconds to wait: `Retry-After`, else until the budget resets (`seconds_until_reset`), else None."""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    return seconds_until_reset(response.headers)
