"""The control store: where each endpoint's extraction stands (watermarks), what each run did (run records), who runs
a pipeline now (its lease) and the schema versions each endpoint wrote; in BigQuery or in embedded SQLite."""

from beam_api_pipeline.control.runs import PipelineRun
from beam_api_pipeline.control.store import WatermarkStore, open_store
from beam_api_pipeline.control.watermarks import WatermarkHandler, next_watermark

__all__ = ["PipelineRun", "WatermarkHandler", "WatermarkStore", "next_watermark", "open_store"]
