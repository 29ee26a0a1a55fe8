"""Incremental extraction: ``api_config.watermark`` and how its time range is cut into windows."""

from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import Field, model_validator

from beam_api_pipeline.core.windowing import Window, plan_windows

from .base import StrictModel, rule_error
from .fields import Duration, PositiveDuration, TimeFormat, UtcDatetime


class WindowConfig(StrictModel):
    """Windows of ``window_size``, aligned by ``window_offset`` (0 = midnight UTC), widened by overlap;
    ``sliding`` windows of ``window_size`` start every ``window_slide`` (see `plan`).

    ``timestamp_field`` overrides the watermark's ``timestamp_field`` for placing records in windows.
    """

    window_type: Literal["fixed", "sliding"] = "fixed"
    window_size: PositiveDuration = timedelta(hours=24)
    window_slide: PositiveDuration | None = None
    window_offset: Duration = timedelta(0)
    window_overlap: Duration = timedelta(0)
    timestamp_field: str | None = None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.window_overlap >= self.window_size:
            raise rule_error("must be shorter than window_size", "window_overlap")
        return self

    @model_validator(mode="after")
    def _slide_only_when_sliding(self) -> Self:
        if self.window_type == "fixed" and self.window_slide is not None:
            raise rule_error("only allowed when window_type is sliding", "window_slide")
        if self.window_type == "sliding" and self.window_slide is None:
            raise rule_error("required when window_type is sliding", "window_slide")
        if self.window_slide is not None and self.window_slide > self.window_size:
            raise rule_error("must be <= window_size", "window_slide")
        return self

    def request_overlap(self) -> timedelta:
        """How far before its start each window requests: ``window_overlap``, and for sliding windows
        ``window_size - window_slide`` more, so that a whole window requests ``window_size`` back from its end."""
        if self.window_type == "sliding":
            return self.window_overlap + self.window_size - self.window_slide
        return self.window_overlap

    def plan(self, start: datetime, end: datetime) -> list[Window]:
        """[start, end) cut into this config's windows. Sliding windows are cut every ``window_slide`` and each
        is widened by `request_overlap`: a record is kept only by the window whose [start, end) holds it, so
        none is written twice."""
        step = self.window_slide if self.window_type == "sliding" else self.window_size
        return plan_windows(start, end, step, self.window_offset, self.request_overlap())


class WatermarkConfig(StrictModel):
    """Where the first run starts, which record field holds the update time, and how bounds are sent.

    ``filter: client`` is for APIs without a time filter: no bounds are sent, the endpoint is read newest first
    (its sort in ``params``) and a window's walk stops after the first page whose records all precede the window.
    """

    enabled: bool = True
    timestamp_field: str = "updated_at"
    watermark_field: str | None = None
    window_end_field: str | None = None
    start_inclusive: bool = True
    end_inclusive: bool = False
    initial_watermark: UtcDatetime | None = None
    lookback_window: Duration = timedelta(0)
    time_format: TimeFormat = "iso8601"
    window: WindowConfig = WindowConfig()
    filter: Literal["server", "client"] = "server"
    #: With ``filter: server``, a window fails when more than this share of the records the API returned lie
    #: outside the range it asked for or have no readable timestamp (the API ignored the filter); 1: never.
    max_outside_share: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _bounds_in_two_parameters(self) -> Self:
        if self.watermark_field is not None and self.watermark_field == self.window_end_field:
            raise rule_error(
                f"is watermark_field too ({self.window_end_field!r}): the end would overwrite the start; put both "
                "bounds in one parameter with a template ({window_start} ... {window_end}) instead",
                "window_end_field",
            )
        return self

    @model_validator(mode="after")
    def _enabled_has_a_start(self) -> Self:
        if self.enabled and self.initial_watermark is None:
            raise rule_error("required when watermark is enabled", "initial_watermark")
        return self

    def placement_field(self) -> str:
        """The record field that places a record in its window: ``window.timestamp_field`` when set, else
        ``timestamp_field``."""
        return self.window.timestamp_field or self.timestamp_field
