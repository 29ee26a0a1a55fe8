"""How a failed request is retried: ``api_config.retry``."""

from typing import Annotated, Self

from pydantic import Field, model_validator

from .base import StrictModel, rule_error

HttpStatus = Annotated[int, Field(ge=100, le=599)]


class RetryConfig(StrictModel):
    """Exponential backoff from ``base_delay`` up to ``max_delay``, bounded by attempts and by total time.

    ``max_time`` is in seconds, for all attempts of one request. Connection errors and timeouts are always
    retried; ``retry_on`` lists the HTTP statuses that are too.
    """

    max_attempts: int = Field(5, ge=1)
    max_time: float = Field(300, gt=0)
    base_delay: float = Field(1.0, ge=0)
    max_delay: float = 60
    jitter: bool = True
    retry_on: list[HttpStatus] = Field(default_factory=lambda: [429, 500, 502, 503, 504])

    @model_validator(mode="after")
    def _max_delay_not_below_base(self) -> Self:
        if self.max_delay < self.base_delay:
            raise rule_error(f"must be >= base_delay ({self.base_delay:g})", "max_delay")
        return self
