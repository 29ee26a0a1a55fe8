"""Extractors: how one endpoint's window becomes requests, and its pages become records."""

from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.extractors.rest import RestExtractor

__all__ = ["BaseExtractor", "RestExtractor"]
