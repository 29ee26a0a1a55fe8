"""What to call and how: ``api_config`` with its endpoints and per-record transform."""

import re
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from .auth import AuthConfig, NoAuthConfig
from .base import StrictModel, rule_error
from .fields import Secret
from .pagination import PaginationConfig
from .parallel import ParallelConfig
from .retry import RetryConfig
from .watermark import WatermarkConfig

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
NAME_RULE = "must start with a lowercase letter and contain only a-z, 0-9 and _"
_REDIS_URL = re.compile(r"rediss?://[A-Za-z0-9.-]+:[0-9]{1,5}(/[0-9]{1,2})?")


class EndpointConfig(StrictModel):
    """One stream: a path below ``base_url``, with its own watermark.

    REST endpoints use ``params`` (and ``body`` for POST); GraphQL endpoints give ``query`` and ``variables``,
    to which the window bounds and the cursor are added. ``records_path`` is where the list of records is in
    a response (``""`` = the body itself, ``items``, ``data.events.nodes``). ``pagination``, when given,
    replaces ``api_config.pagination`` for this endpoint (as a whole: its unset keys take their defaults).
    """

    path: str
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    records_path: str = ""
    primary_key: str | None = None
    query: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    pagination: PaginationConfig | None = None


class TransformConfig(StrictModel):
    """Applied to each record in order: keep ``select`` (dotted paths), ``rename``, then add metadata.

    ``add_metadata`` adds ``_pipeline_id``, ``_endpoint``, ``_window_start``, ``_window_end``,
    ``_extracted_at`` and ``_run_id``.
    """

    select: list[str] | None = None
    rename: dict[str, str] = Field(default_factory=dict)
    add_metadata: bool = False


class ApiConfig(StrictModel):
    """The API side of a pipeline. ``rate_limit`` (requests per second) and ``max_concurrent_requests`` are
    for the whole job, all workers together, held as ``rate_limit_mode`` says (``client.limits``);
    ``batch_size`` is records per bundle handed downstream.
    """

    base_url: str
    timeout: float = Field(30, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    endpoints: dict[str, EndpointConfig] = Field(min_length=1)
    auth_config: AuthConfig = NoAuthConfig()
    pagination: PaginationConfig = PaginationConfig()
    retry: RetryConfig = RetryConfig()
    rate_limit: float | None = Field(None, gt=0)
    rate_limit_mode: Literal["share", "adaptive", "shared"] = "share"
    rate_limit_store: str | None = None
    rate_limit_store_password: Secret | None = None
    max_concurrent_requests: int | None = Field(None, gt=0)
    batch_size: int = Field(100, gt=0)
    watermark: WatermarkConfig = WatermarkConfig(enabled=False)
    parallel_config: ParallelConfig | None = None
    transform: TransformConfig = TransformConfig()
    verify_ssl: bool = True

    def pagination_for(self, endpoint: str) -> PaginationConfig:
        """The pagination of ``endpoint``: its own if it has one, else ``pagination``."""
        return self.endpoints[endpoint].pagination or self.pagination

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if "${" not in value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("rate_limit_store")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and "${" not in value and not _REDIS_URL.fullmatch(value):
            raise ValueError(
                "must be redis://host:port/db (or rediss:// for TLS); give the password in rate_limit_store_password"
            )
        return value

    @model_validator(mode="after")
    def _rate_limit_mode_has_what_it_needs(self) -> Self:
        if self.rate_limit_mode != "share" and self.rate_limit is None:
            raise rule_error(f"required when rate_limit_mode is {self.rate_limit_mode}", "rate_limit")
        if self.rate_limit_mode == "shared" and self.rate_limit_store is None:
            raise rule_error("required when rate_limit_mode is shared", "rate_limit_store")
        stray = [key for key in ("rate_limit_store", "rate_limit_store_password") if getattr(self, key) is not None]
        if self.rate_limit_mode != "shared" and stray:
            raise rule_error("only used with rate_limit_mode: shared", *stray)
        return self

    @field_validator("endpoints")
    @classmethod
    def _endpoint_names(cls, endpoints: dict[str, EndpointConfig]) -> dict[str, EndpointConfig]:
        for name in endpoints:
            if not NAME_PATTERN.fullmatch(name):
                raise rule_error(f"endpoint name {NAME_RULE}", name)
        return endpoints
