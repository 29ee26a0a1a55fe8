"""Which BaseExtractor class an `extractor_class` name stands for.

`BUILT_IN_EXTRACTORS` is the one table of built-in extractors; `register_extractor` (also reached as
`PipelineFactory.register_extractor`) adds names on top of it (a registered name replaces the built-in of that
name); any other name is a user's `package.module:ClassName`.
"""

from __future__ import annotations

import importlib

from beam_api_pipeline.core.errors import ConfigError
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

#: The names `register_extractor` added, in this process.
REGISTERED_EXTRACTORS: dict[str, type[BaseExtractor]] = {}


def register_extractor(name: str, extractor_class: type[BaseExtractor]) -> None:
    """Make `extractor_class: name` use `extractor_class` (register before the pipeline is built)."""
    REGISTERED_EXTRACTORS[name] = extractor_class


def load_extractor_class(name: str) -> type[BaseExtractor]:
    """The class of `name`: a registered or built-in name, or a user's `package.module:ClassName`; a
    ConfigError under `extractor_class` when there is none."""
    known = {**BUILT_IN_EXTRACTORS, **REGISTERED_EXTRACTORS}
    if name in known:
        return known[name]
    if ":" not in name:
        names = ", ".join(known)
        raise ConfigError(f"extractor_class: {name!r} is not known; expected one of {names}, or package.module:Class")
    module_name, _, class_name = name.partition(":")
    try:
        extractor = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"extractor_class: cannot load {name!r}: {error}") from None
    if not (isinstance(extractor, type) and issubclass(extractor, BaseExtractor)):
        raise ConfigError(f"extractor_class: {name!r} is not a BaseExtractor subclass")
    return extractor
