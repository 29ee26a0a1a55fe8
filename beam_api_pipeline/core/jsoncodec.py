"""JSON in and out on the hot paths, with orjson (several times faster than the standard library), and the
standard library for what orjson refuses (NaN and Infinity in, integers over 64 bits, text not in UTF-8, half
of a surrogate pair), written the same way either way: NaN and Infinity as null, dates and times in ISO 8601,
other values as text.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from typing import Any

import orjson

_LINE = orjson.OPT_NON_STR_KEYS
_CANONICAL = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS


def loads(data: bytes | str) -> Any:
    """The JSON document `data`; raises ValueError when it is not JSON. Half of a UTF-16 surrogate pair
    (`"\\ud83d"` alone), which UTF-8, and so every Beam coder and sink, cannot hold, is read as U+FFFD."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _without_lone_surrogates(json.loads(data))


def encode(value: Any) -> bytes:
    """`value` as compact JSON on one line, in UTF-8, non-ASCII kept."""
    try:
        return orjson.dumps(value, default=str, option=_LINE)
    except orjson.JSONEncodeError:
        return json.dumps(_as_orjson_writes(value), separators=(",", ":"), ensure_ascii=False).encode()


def dumps(value: Any) -> str:
    """`value` as `encode` writes it, as text."""
    return encode(value).decode()


def canonical(value: Any) -> bytes:
    """`value` as JSON with sorted keys: equal values give equal bytes (for keys and hashes)."""
    try:
        return orjson.dumps(value, default=str, option=_CANONICAL)
    except orjson.JSONEncodeError:
        return json.dumps(_as_orjson_writes(value), sort_keys=True, separators=(",", ":")).encode()


def _as_orjson_writes(value: Any) -> Any:
    """`value` with what orjson writes differently from the standard library made plain JSON first."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key) if not isinstance(key, str) else key: _as_orjson_writes(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_orjson_writes(item) for item in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _without_lone_surrogates(value: Any) -> Any:
    """`value` with each half of a surrogate pair left alone in its text replaced by U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value
