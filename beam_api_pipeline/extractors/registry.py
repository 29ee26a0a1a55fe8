"""Which BaseExtractor class an `extractor_class` name stands for."""

from __future__ import annotations

import importlib

from beam_api_pipeline.errors import ConfigError
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.extractors.github import GitHubExtractor
from beam_api_pipeline.extractors.graphql import GraphqlExtractor
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.extractors.weather import WeatherExtractor

BUILT_IN_EXTRACTORS: dict[str, type[BaseExtractor]] = {
    "rest": RestExtractor,
    "graphql": GraphqlExtractor,
    "github": GitHubExtractor,
    "weather": WeatherExtractor,
}


def load_extractor_class(name: str, registered: dict[str, type[BaseExtractor]]) -> type[BaseExtractor]:
    """A registered or built-in extractor, or a user's `package.module:ClassName`."""
    if name in registered:
        return registered[name]
    if name in BUILT_IN_EXTRACTORS:
        return BUILT_IN_EXTRACTORS[name]
    if ":" not in name:
        known = ", ".join([*BUILT_IN_EXTRACTORS, *registered])
        raise ConfigError(f"extractor_class: {name!r} is not known; expected one of {known}, or package.module:Class")
    module_name, _, class_name = name.partition(":")
    try:
        extractor = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"extractor_class: cannot load {name!r}: {error}") from None
    if not (isinstance(extractor, type) and issubclass(extractor, BaseExtractor)):
        raise ConfigError(f"extractor_class: {name!r} is not a BaseExtractor subclass")
    return extractor
