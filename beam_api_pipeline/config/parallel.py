"""How one run fans out: ``api_config.parallel_config``, one model per ``type``."""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from .base import StrictModel, rule_error
from .fields import Duration, PositiveDuration


class TimeWindowParallelConfig(StrictModel):
    """Windows are fetched concurrently; ``window_size`` / ``window_overlap`` override the watermark's."""

    type: Literal["time_window"] = "time_window"
    max_concurrent_windows: int = Field(8, gt=0)
    window_size: PositiveDuration | None = None
    window_overlap: Duration | None = None
    timestamp_format: str | None = None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Self:
        if self.window_size and self.window_overlap is not None and self.window_overlap >= self.window_size:
            raise rule_error("must be shorter than window_size", "window_overlap")
        return self

    def window_size_seconds(self) -> float | None:
        """``window_size`` in seconds, or None when the watermark's window applies."""
        return None if self.window_size is None else self.window_size.total_seconds()

    def window_overlap_seconds(self) -> float | None:
        """``window_overlap`` in seconds, or None when the watermark's window applies."""
        return None if self.window_overlap is None else self.window_overlap.total_seconds()


class KnownPagesParallelConfig(StrictModel):
    """When the total is known up front, a window's pages are fetched concurrently."""

    type: Literal["known_pages"] = "known_pages"
    max_concurrent_pages: int = Field(4, gt=0)
    require_total_count: bool = True
    safe_page_size: int | None = Field(None, gt=0)


class CalculatedOffsetParallelConfig(StrictModel):
    """When the total is known up front, a window is cut into offset chunks fetched concurrently."""

    type: Literal["calculated_offset"] = "calculated_offset"
    max_concurrent_chunks: int = Field(4, gt=0)
    chunk_size: int = Field(1000, gt=0)
    require_total_count: bool = True


#: ``api_config.parallel_config``: one of the models above, chosen by ``type``.
ParallelConfig = Annotated[
    TimeWindowParallelConfig | KnownPagesParallelConfig | CalculatedOffsetParallelConfig,
    Field(discriminator="type"),
]
