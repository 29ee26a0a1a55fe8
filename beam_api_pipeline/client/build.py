"""Building the ApiClient of a (resolved) pipeline configuration, with the auth handler of its `auth_type` and
the limits of the process that uses it.

Every request says who sends it: `api_config.headers` holds the `User-Agent` (the environment file's service,
filled in when the config is loaded, see `config.env.user_agent`), else it is `beam_api_pipeline/<version>`."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.client.api_client import ApiClient
from beam_api_pipeline.client.auth import ApiKeyAuth, AuthHandler, BasicAuth, BearerAuth
from beam_api_pipeline.client.limits import BudgetShare, LimitSettings, RequestLimits, process_limits, share_of_budget
from beam_api_pipeline.client.login import LoginAuth
from beam_api_pipeline.client.oauth import OAuth2Auth
from beam_api_pipeline.client.retry import RetryPolicy
from beam_api_pipeline.config import PipelineConfig, ServiceConfig
from beam_api_pipeline.config.env import user_agent
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.logging_setup import register_secrets

#: Requests in flight for the whole job when `max_concurrent_requests` is not set.
DEFAULT_MAX_CONCURRENT_REQUESTS = 10

STATIC_AUTH_HANDLERS: dict[str, type[AuthHandler]] = {
    "none": AuthHandler,
    "api_key": ApiKeyAuth,
    "bearer": BearerAuth,
    "basic": BasicAuth,
}


def create_auth_handler(
    config: Any, pipeline_id: str = "", timeout: float = 30.0, verify_ssl: bool = True, base_url: str = ""
) -> AuthHandler:
    """The handler for `config.auth_type`; OAuth2 and login tokens are shared per `pipeline_id` in the process
    (a login path is below `base_url`)."""
    if config.auth_type == "oauth2":
        return OAuth2Auth(config, pipeline_id, timeout=timeout, verify_ssl=verify_ssl)
    if config.auth_type == "login":
        return LoginAuth(config, base_url, pipeline_id, timeout=timeout, verify_ssl=verify_ssl)
    handler = STATIC_AUTH_HANDLERS.get(config.auth_type)
    if handler is None:
        raise ConfigError(f"api_config.auth_config.auth_type: {config.auth_type!r} is not a known auth type")
    return handler(config)


def budget_share(config: PipelineConfig, processes: int) -> BudgetShare:
    """The share of the job's `rate_limit` and `max_concurrent_requests` of one of `processes` processes."""
    api = config.api_config
    return share_of_budget(api.rate_limit, api.max_concurrent_requests or DEFAULT_MAX_CONCURRENT_REQUESTS, processes)


def client_limits(config: PipelineConfig, share: BudgetShare) -> RequestLimits:
    """This process's RequestLimits for `config` (secrets resolved) holding `share`, in `rate_limit_mode`."""
    api = config.api_config
    password = api.rate_limit_store_password.get_secret_value() if api.rate_limit_store_password else None
    register_secrets([password])
    mode, store = api.rate_limit_mode, api.rate_limit_store
    ca = api.rate_limit_store_ca.get_secret_value() if api.rate_limit_store_ca else None
    cap = api.max_concurrent_requests or DEFAULT_MAX_CONCURRENT_REQUESTS
    settings = LimitSettings(config.pipeline_id, mode, api.rate_limit, share, store, password, ca, cap, api.timeout)
    return process_limits(settings)


def build_client(config: PipelineConfig, limits: RequestLimits) -> ApiClient:
    """An ApiClient for `config`, whose secrets must already be resolved, held to `limits` (this process's part
    of the job's rate and concurrency, see `client.limits`)."""
    api = config.api_config
    auth = create_auth_handler(api.auth_config, config.pipeline_id, api.timeout, api.verify_ssl, api.base_url)
    register_secrets(auth.secrets())
    return ApiClient(
        timeout=api.timeout,
        headers={"User-Agent": user_agent(ServiceConfig()), **api.headers},
        retry_on=list(api.retry.retry_on),
        retry_policy=RetryPolicy(api.retry),
        auth=auth,
        limits=limits,
        pool_size=limits.max_concurrent or DEFAULT_MAX_CONCURRENT_REQUESTS,
        verify_ssl=api.verify_ssl,
    )
