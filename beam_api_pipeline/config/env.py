"""The optional environment file (``--env_config``): service identity and job-wide rate-limit defaults.

The service's ``name`` and ``version`` name the deployment everywhere it shows: in the User-Agent of every API
request (``user_agent``), in run records and in Dataflow job labels.
"""

import re
from typing import Literal

from pydantic import Field, field_validator

from beam_api_pipeline import __version__

from .base import StrictModel

PACKAGE_PRODUCT = f"beam_api_pipeline/{__version__}"
_PRODUCT_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


class ServiceConfig(StrictModel):
    """``service``: what the deployment is called, its version, and how verbosely it logs."""

    name: str | None = None
    version: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = None

    @field_validator("name", "version")
    @classmethod
    def _product_token(cls, value: str | None) -> str | None:
        if value is not None and not _PRODUCT_TOKEN.fullmatch(value):
            raise ValueError("must start with a letter or digit and contain only letters, digits and . _ + -")
        return value


class RateLimitsConfig(StrictModel):
    """``rate_limits``: defaults for ``api_config.rate_limit`` and ``api_config.max_concurrent_requests``."""

    default_rps: float | None = Field(None, gt=0)
    max_concurrent: int | None = Field(None, gt=0)


class EnvConfig(StrictModel):
    """Settings shared by every pipeline of one environment."""

    service: ServiceConfig = ServiceConfig()
    rate_limits: RateLimitsConfig = RateLimitsConfig()


def user_agent(service: ServiceConfig) -> str:
    """The User-Agent of API requests: ``<name>/<version> beam_api_pipeline/<package version>``; without a
    version, ``<name> beam_api_pipeline/...``; without a name, the package alone."""
    if service.name is None:
        return PACKAGE_PRODUCT
    product = f"{service.name}/{service.version}" if service.version else service.name
    return f"{product} {PACKAGE_PRODUCT}"
