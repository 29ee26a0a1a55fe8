"""Watermarks and run records: where each endpoint's extraction stands, and what each run did."""

from beam_api_pipeline.watermark.handler import WatermarkHandler, next_watermark
from beam_api_pipeline.watermark.runs import PipelineRun
from beam_api_pipeline.watermark.store import WatermarkStore, open_store

__all__ = ["PipelineRun", "WatermarkHandler", "WatermarkStore", "next_watermark", "open_store"]
