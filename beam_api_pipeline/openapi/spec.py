"""An OpenAPI document read from a file or a URL (JSON or YAML), its `$ref`s resolved by `jsonref`.

OpenAPI 3.0 and 3.1 are read; a Swagger 2.0 document is refused with what to do (no well-kept Python library
converts it; `npx swagger2openapi` does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonref
import requests
import yaml

from beam_api_pipeline.core.errors import ConfigError

_TIMEOUT = 60


def _text(source: str) -> str:
    if source.startswith(("http://", "https://")):
        try:
            response = requests.get(source, timeout=_TIMEOUT)
            response.raise_for_status()
        except requests.RequestException as error:
            raise ConfigError(f"{source}: cannot read the OpenAPI document: {error}") from None
        return response.text
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{source}: cannot read the OpenAPI document: {error.strerror}") from None


def _parsed(source: str, text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(f"{source}: not JSON or YAML: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: not an OpenAPI document (expected a mapping at the top)")
    return document


def load_spec(source: str) -> dict[str, Any]:
    """The OpenAPI 3.x document at `source` (a path or an http(s) URL), every `$ref` replaced by what it points
    at (recursive schemas become cyclic Python objects); a ConfigError naming `source` when it cannot be read."""
    document = _parsed(source, _text(source))
    if "swagger" in document:
        raise ConfigError(
            f"{source}: Swagger {document['swagger']} is not read: convert it to OpenAPI 3 first "
            "(for example `npx swagger2openapi SPEC -o openapi.json`)"
        )
    version = str(document.get("openapi", ""))
    if not version.startswith("3."):
        raise ConfigError(f"{source}: not an OpenAPI 3.x document (no 'openapi: 3.x' at the top)")
    base = source if source.startswith(("http://", "https://")) else Path(source).resolve().as_uri()
    return jsonref.replace_refs(document, base_uri=base, lazy_load=False, proxies=False)
