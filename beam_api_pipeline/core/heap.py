"""The garbage collector of a process that moves many JSON records.

Records decoded from JSON are trees: reference counting frees them, and the cyclic collector's passes over
them find nothing. With Python's defaults it makes a young pass for every 700 new objects (about one per page
of records) and, as survivors pile up, full passes over every object of the process, Beam's modules included.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading

#: glibc's malloc arenas a process may have (`mallopt(M_ARENA_MAX)`; its default is 8 a core): an arena holds
#: on to its memory while any block of it is in use, and each thread that meets a busy arena makes one more.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8

#: New objects (less those freed) between two young passes; Python's default is 700.
YOUNG_THRESHOLD = 10_000
#: Young passes between two middle-generation passes, and those between two full ones (defaults: 10 and 10).
OLDER_THRESHOLDS = (50, 1000)

_lock = threading.Lock()
_settled = False


def settle_heap() -> None:
    """Once per process: freeze what exists (modules, the pipeline, the runner) so that full passes skip it,
    and make young passes rarer. Frozen objects are still freed by reference counting; a cycle among them is
    not (the few cycles left over from start-up stay: a full collection first would cost a fifth of a second)."""
    global _settled
    with _lock:
        if _settled:
            return
        _settled = True
        gc.freeze()
        gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def limit_malloc_arenas() -> bool:
    """At most MALLOC_ARENAS glibc malloc arenas from now on, for a process that is about to start its worker
    threads (a local runner's: its peak memory is about a fifth lower, `benchmarks/RESULTS.md`, the memory curve).
    False where the C library has no `mallopt` (not glibc)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return False
    return bool(libc is not None and hasattr(libc, "mallopt") and libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
