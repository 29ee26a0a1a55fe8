"""JSON in and out on the hot paths, with orjson (several times faster than the standard library), and the
standard library for what orjson refuses: NaN and Infinity, integers over 64 bits, text not in UTF-8."""

from __future__ import annotations

import json
from typing import Any

import orjson

_LINE = orjson.OPT_NON_STR_KEYS
_CANONICAL = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS


def loads(data: bytes | str) -> Any:
    """The JSON document `data`; raises ValueError when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> str:
    """`value` as compact JSON on one line, non-ASCII kept; values JSON cannot hold are written as text."""
    try:
        return orjson.dumps(value, default=str, option=_LINE).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical(value: Any) -> bytes:
    """`value` as JSON with sorted keys: equal values give equal bytes (for keys and hashes)."""
    try:
        return orjson.dumps(value, default=str, option=_CANONICAL)
    except orjson.JSONEncodeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
