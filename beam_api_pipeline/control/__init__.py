"""Watermarks and run records: where each endpoint's extraction stands, and what each run did."""

from beam_api_pipeline.control.runs import PipelineRun
from beam_api_pipeline.control.store import WatermarkStore, open_store
from beam_api_pipeline.control.watermarks import WatermarkHandler, next_watermark

__all__ = ["PipelineRun", "WatermarkHandler", "WatermarkStore", "next_watermark", "open_store"]
