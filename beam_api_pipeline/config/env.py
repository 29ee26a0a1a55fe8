"""The optional environment file (``--env_config``): service identity and job-wide rate-limit defaults."""

from typing import Literal

from pydantic import Field

from .base import StrictModel


class ServiceConfig(StrictModel):
    """``service``: what the deployment is called and how verbosely it logs."""

    name: str | None = None
    version: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = None


class RateLimitsConfig(StrictModel):
    """``rate_limits``: defaults for ``api_config.rate_limit`` and ``api_config.max_concurrent_requests``."""

    default_rps: float | None = Field(None, gt=0)
    max_concurrent: int | None = Field(None, gt=0)


class EnvConfig(StrictModel):
    """Settings shared by every pipeline of one environment."""

    service: ServiceConfig = ServiceConfig()
    rate_limits: RateLimitsConfig = RateLimitsConfig()
