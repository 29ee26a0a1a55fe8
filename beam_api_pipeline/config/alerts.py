"""``alerts``: a webhook message at the end of each run, for the conditions a team asks for."""

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import StrictModel
from .fields import PositiveDuration, Secret

#: The conditions an alert can be sent for.
AlertCondition = Literal["failure", "dead_letters", "quality", "rate_limited", "stale_watermark"]


class AlertsConfig(StrictModel):
    """Where to send a run's alert (``webhook``: a Slack-compatible URL, a secret) and for which conditions.

    ``stale_after``: an endpoint whose watermark is older than this is stale. ``rate_limited_share``: a run that
    spent more than this share of its fetch time throttled is rate limited.
    """

    webhook: Secret | None = None
    on: list[AlertCondition] = Field(
        default_factory=lambda: ["failure", "dead_letters", "quality", "rate_limited", "stale_watermark"]
    )
    stale_after: PositiveDuration = timedelta(days=2)
    rate_limited_share: float = Field(default=0.5, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _on_as_written(cls, data: Any) -> Any:
        """YAML 1.1 reads an unquoted `on:` key as the boolean true: it is the `on` key."""
        if isinstance(data, dict) and True in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data
