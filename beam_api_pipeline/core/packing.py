"""Records that cross a shuffle travel packed: one bytes value a batch.

A runner encodes every element that goes from one stage to another. Beam's FastPrimitivesCoder walks each
record, and for a value it cannot write itself (an integer over 64 bits) falls back to pickle, Python code in
the middle of an element (docs/beam-time-flush-bug.md). A packed batch is pickled once, by the DoFn that emits
it: 57 bytes a small record of the benchmark's against the coder's 77, written faster and read back four
times faster, exact for every value JSON can hold. The runner then only copies bytes.
"""

from __future__ import annotations

import pickle
import zlib
from typing import Any

#: The first byte of what `pack_compressed` makes (a zlib stream); `pack`'s is 0x80 (pickle's protocol marker).
_ZLIB = b"\x78"


def pack(records: list[Any]) -> bytes:
    """`records` as one bytes value (pickle protocol 5)."""
    return pickle.dumps(records, protocol=5)


def unpack(packed: bytes) -> list[Any]:
    """The records `pack` made `packed` of (a new list of new records)."""
    return pickle.loads(packed)


def pack_compressed(records: list[Any]) -> bytes:
    """`records` packed, then compressed at zlib's fastest level (a third to a seventh of the bytes of JSON
    records): for what a local runner holds in memory until a later stage reads it (its grouping stages' and
    waiting stages' whole inputs)."""
    return zlib.compress(pack(records), 1)


def unpack_any(packed: bytes) -> list[Any]:
    """The records `pack` or `pack_compressed` made `packed` of."""
    return unpack(zlib.decompress(packed) if packed[:1] == _ZLIB else packed)
