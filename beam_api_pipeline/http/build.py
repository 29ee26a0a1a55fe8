"""Building the ApiClient of a (resolved) pipeline configuration."""

from __future__ import annotations

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.http.auth import create_auth_handler
from beam_api_pipeline.http.client import ApiClient
from beam_api_pipeline.http.limits import shared_limits
from beam_api_pipeline.http.retry import RetryPolicy
from beam_api_pipeline.logging_setup import register_secrets

DEFAULT_MAX_CONCURRENT_REQUESTS = 10


def build_client(config: PipelineConfig) -> ApiClient:
    """An ApiClient for `config`, whose secrets must already be resolved; limits are shared per process."""
    api = config.api_config
    max_concurrent = api.max_concurrent_requests or DEFAULT_MAX_CONCURRENT_REQUESTS
    auth = create_auth_handler(api.auth_config)
    register_secrets(auth.secrets())
    return ApiClient(
        timeout=api.timeout,
        headers=api.headers,
        retry_on=list(api.retry.retry_on),
        retry_policy=RetryPolicy(api.retry),
        auth=auth,
        limits=shared_limits(config.pipeline_id, api.rate_limit, max_concurrent),
        pool_size=max_concurrent,
        verify_ssl=api.verify_ssl,
    )
