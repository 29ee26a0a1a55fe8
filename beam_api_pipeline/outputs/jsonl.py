"""JSON Lines encoding shared by the file sinks and the dead letter."""

from __future__ import annotations

import json
from typing import Any


def to_json_line(row: Any) -> str:
    """One compact JSON document on one line; values JSON cannot hold are written as text."""
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False, default=str)
