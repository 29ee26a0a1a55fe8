"""ApiClient over real HTTP against the sample API: retries, Retry-After, and errors that name the request."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from beam_api_pipeline.client.api_client import ApiClient, ApiRequest
from beam_api_pipeline.client.auth import AuthHandler
from beam_api_pipeline.client.limits import RequestLimits
from beam_api_pipeline.client.retry import RetryPolicy
from beam_api_pipeline.config import RetryConfig
from beam_api_pipeline.core.errors import ApiError, RetryableApiError


def client(sleeps: list[float], **retry) -> ApiClient:
    config = RetryConfig(**{"max_attempts": 4, "base_delay": 0.01, "max_delay": 0.05, "jitter": False, **retry})
    return ApiClient(
        timeout=2,
        headers={},
        retry_on=list(config.retry_on),
        retry_policy=RetryPolicy(config, sleep=sleeps.append),
        auth=AuthHandler(None),
        limits=RequestLimits(None, 4),
    )


def items(api, **params) -> ApiRequest:
    return ApiRequest("GET", f"{api.url}/items", {"since": "2024-01-01", "until": "2024-01-02", **params})


def test_a_429_with_an_http_date_waits_as_long_as_asked(sample_api):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    sample_api.set_faults(rate_limit_every=1, retry_after=later)
    sleeps: list[float] = []
    with pytest.raises(RetryableApiError, match="answered 429"):
        client(sleeps, max_attempts=2).send(items(sample_api))
    assert len(sleeps) == 1 and 28 <= sleeps[0] <= 30


def test_429_then_success_returns_the_page(sample_api):
    sample_api.set_faults(rate_limit_every=2, retry_after="0")
    sleeps: list[float] = []
    api_client = client(sleeps)
    first = api_client.send(items(sample_api, per_page=5))
    second = api_client.send(items(sample_api, per_page=5, page=2))
    assert [r["id"] for r in first.body["items"]] == [1, 2, 3, 4, 5]
    assert [r["id"] for r in second.body["items"]] == [6, 7, 8, 9, 10]
    assert sleeps == [0.01]  # Retry-After: 0 still backs off
    assert sample_api.stats()["by_status"] == {"200": 2, "429": 1}


def test_a_refused_connection_is_retried_then_reported(sample_api):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(
        RetryableApiError, match=rf"GET http://127.0.0.1:{port}/items\?token=\*\*\* failed: ConnectionError"
    ):
        client(sleeps).send(ApiRequest("GET", f"http://127.0.0.1:{port}/items?token=abc"))
    assert sleeps == [0.01, 0.02, 0.04]


def test_client_errors_are_not_retried_and_name_the_request(sample_api):
    sleeps: list[float] = []
    started = time.monotonic()
    with pytest.raises(ApiError) as error:
        client(sleeps).send(ApiRequest("GET", f"{sample_api.url}/items", {"page": "x", "api_key": "s3cr3t"}))
    assert str(error.value).startswith(f"GET {sample_api.url}/items?page=x&api_key=*** answered 400: ")
    assert "page" in str(error.value) and "s3cr3t" not in str(error.value)
    assert sleeps == [] and time.monotonic() - started < 1
