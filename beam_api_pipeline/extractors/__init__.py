"""Extractors: how one endpoint's window becomes requests, and its pages become records."""

from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.extractors.github import GitHubExtractor
from beam_api_pipeline.extractors.graphql import GraphqlExtractor
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.extractors.weather import WeatherExtractor

__all__ = ["BaseExtractor", "GitHubExtractor", "GraphqlExtractor", "RestExtractor", "WeatherExtractor"]
