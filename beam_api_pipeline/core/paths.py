"""Dotted paths into JSON documents: `data.events.nodes`, `meta.next_cursor`, `data.-1.id`."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def get_path(document: Any, path: str | None, default: Any = None) -> Any:
    """The value at `path` ("" is the document itself); list items by index, negative from the end."""
    if not path:
        return document
    if "." not in path and isinstance(document, dict):
        return document.get(path, default)  # the common case, a top-level field, in one step
    value = document
    for part in path.split("."):
        value = _step(value, part)
        if value is _MISSING:
            return default
    return value


def _step(value: Any, part: str) -> Any:
    if isinstance(value, dict):
        return value.get(part, _MISSING)
    if isinstance(value, list):
        try:
            return value[int(part)]
        except (ValueError, IndexError):
            return _MISSING
    return _MISSING
