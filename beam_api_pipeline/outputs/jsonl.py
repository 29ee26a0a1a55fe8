"""JSON Lines encoding shared by the file sinks and the dead letter."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.core import jsoncodec


def to_json_line(row: Any) -> str:
    """One compact JSON document on one line; values JSON cannot hold are written as text, NaN as null."""
    return jsoncodec.dumps(row)


def json_line_bytes(row: Any) -> bytes:
    """`to_json_line(row)` in UTF-8, without the round trip through text."""
    return jsoncodec.encode(row)
