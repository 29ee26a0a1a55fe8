"""The generic REST extractor: everything comes from the configuration."""

from beam_api_pipeline.extractors.base import BaseExtractor


class RestExtractor(BaseExtractor):
    """A REST endpoint described entirely by `api_config`."""
