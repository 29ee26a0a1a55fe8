"""How one run fans out: ``api_config.parallel_config``, one model per ``type``."""

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .base import StrictModel, rule_error


class TimeWindowParallelConfig(StrictModel):
    """Windows are fetched concurrently, at most ``max_concurrent_windows`` at once across the job (see
    `transforms.window_slots`). The windows themselves come from ``watermark.window``: the design's
    ``window_size``, ``window_overlap`` and ``timestamp_format`` here are refused, naming the key to use."""

    type: Literal["time_window"] = "time_window"
    max_concurrent_windows: int = Field(8, gt=0)
    window_size: None = None
    window_overlap: None = None
    timestamp_format: None = None

    @model_validator(mode="before")
    @classmethod
    def _windows_come_from_the_watermark(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, instead in _WATERMARK_KEYS.items():
                if data.get(name) is not None:
                    raise rule_error(f"not read here: set api_config.watermark.{instead} instead", name)
        return data


#: Keys of the design's time_window section, and where the watermark section takes them.
_WATERMARK_KEYS = {
    "window_size": "window.window_size",
    "window_overlap": "window.window_overlap",
    "timestamp_format": "time_format",
}


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
