"""Incremental extraction: ``api_config.watermark`` and how its time range is cut into windows."""

from datetime import timedelta
from typing import Literal, Self

from pydantic import field_validator, model_validator

from .base import StrictModel, rule_error
from .fields import Duration, PositiveDuration, UtcDatetime

_TIME_FORMATS = ("iso8601", "epoch", "epoch_ms", "date")


class WindowConfig(StrictModel):
    """Windows of ``window_size``, aligned by ``window_offset`` (0 = midnight UTC), widened by overlap.

    ``timestamp_field`` overrides the watermark's ``timestamp_field`` for placing records in windows.
    """

    window_type: Literal["fixed", "sliding"] = "fixed"
    window_size: PositiveDuration = timedelta(hours=24)
    window_offset: Duration = timedelta(0)
    window_overlap: Duration = timedelta(0)
    timestamp_field: str | None = None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.window_overlap >= self.window_size:
            raise rule_error("must be shorter than window_size", "window_overlap")
        return self

    def window_size_seconds(self) -> float:
        """``window_size`` in seconds."""
        return self.window_size.total_seconds()

    def window_offset_seconds(self) -> float:
        """``window_offset`` in seconds."""
        return self.window_offset.total_seconds()


class WatermarkConfig(StrictModel):
    """Where the first run starts, which record field holds the update time, and how bounds are sent."""

    enabled: bool = True
    timestamp_field: str = "updated_at"
    watermark_field: str | None = None
    window_end_field: str | None = None
    end_inclusive: bool = False
    initial_watermark: UtcDatetime | None = None
    lookback_window: Duration = timedelta(0)
    time_format: str = "iso8601"
    window: WindowConfig = WindowConfig()

    @field_validator("time_format")
    @classmethod
    def _known_time_format(cls, value: str) -> str:
        if value not in _TIME_FORMATS and "%" not in value:
            raise ValueError(f"must be one of: {', '.join(_TIME_FORMATS)}, or a strftime pattern like %Y-%m-%d")
        return value

    @model_validator(mode="after")
    def _enabled_has_a_start(self) -> Self:
        if self.enabled and self.initial_watermark is None:
            raise rule_error("required when watermark is enabled", "initial_watermark")
        return self
