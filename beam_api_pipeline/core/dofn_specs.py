"""Beam's state and timer specs of a DoFn, worked out once per DoFn object instead of at every ask.

Beam asks `userstate.get_dofn_specs(dofn)` about 8 times for each ParDo while it builds, translates and runs a
graph, and each answer inspects the signature of every method of the DoFn: 578 asks cost 0.32 s of the 0.85 s
between a one-page run's imports and its first request (benchmarks/RESULTS.md, 2026-12-07). A DoFn's methods and
their default arguments (where the specs are declared) do not change once it exists, so the answer of its first
ask holds for its life; `cache_dofn_specs` makes Beam keep it, per object (weakly: a collected DoFn's entry goes
with it).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from apache_beam.transforms import userstate

_Specs = tuple[set, set]
_lock = threading.Lock()


def _cached(compute: Callable[[Any], _Specs]) -> Callable[[Any], _Specs]:
    """`compute` (Beam's get_dofn_specs), answering again from a cache keyed by the DoFn object."""
    answers: dict[int, tuple[weakref.ref, _Specs]] = {}

    def get_dofn_specs(dofn: Any) -> _Specs:
        key = id(dofn)
        entry = answers.get(key)
        if entry is None or entry[0]() is not dofn:
            specs = compute(dofn)
            try:
                ref = weakref.ref(dofn, lambda _, key=key: answers.pop(key, None))
            except TypeError:  # an object without weak references: asked every time, as Beam does
                return specs
            entry = answers[key] = (ref, specs)
        states, timers = entry[1]
        return set(states), set(timers)  # callers get sets of their own, as from Beam

    get_dofn_specs.__doc__ = compute.__doc__
    get_dofn_specs.answers = answers  # the cache, by DoFn id: (weak reference, specs)
    return get_dofn_specs


def cache_dofn_specs() -> None:
    """Make `apache_beam.transforms.userstate.get_dofn_specs` answer each DoFn object from a cache (once per
    process; every caller in Beam reaches it through the module's attribute)."""
    with _lock:
        if not hasattr(userstate.get_dofn_specs, "answers"):
            userstate.get_dofn_specs = _cached(userstate.get_dofn_specs)
