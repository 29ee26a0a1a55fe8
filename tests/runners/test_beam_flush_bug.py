"""The Beam bug behind the lost records (docs/beam-time-flush-bug.md), confirmed with a plain Beam pipeline
(`flush_repro.py`), each run in a process of its own, held to 3 GB: a cut element can decode as a length of
gigabytes.

A Python SDK worker whose data channel flushes on a timer (`data_buffer_time_limit_ms` > 0) sends the first
part of an element whose encoding runs Python code; FnApiRunner and Prism read every part on its own. Beam's
`multi_threading` mode always does that; Prism and Dataflow workers do it with the experiment
`data_buffer_time_limit_ms`, which this project refuses (tests/unit/test_runner_selection.py).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from tests.support import prism_location

REPRO = Path(__file__).with_name("flush_repro.py")
ROOT = REPRO.parents[2]
THREADS = ["--direct_num_workers=2", "--direct_running_mode=multi_threading"]


def _limit_memory() -> None:
    limit = 3 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def repro(*args: str) -> str:
    """The repro's verdict (`exact`, `failed: ...`, `wrong: ...`) for `args`."""
    done = subprocess.run(
        [sys.executable, str(REPRO), *args],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=240,
        preexec_fn=_limit_memory,
    )
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else f"died with code {done.returncode}"


#: What the reader makes of the pieces of a cut element: garbage lengths, unknown tags, None values, or less data.
CORRUPTION = ("failed: MemoryError", "Error decoding input stream", "Unknown type tag", "NoneType", "wrong: ")


def test_beams_multi_threading_mode_corrupts_values_encoded_by_python_code():
    verdict = repro("--runner=FnApiRunner", *THREADS)
    assert any(sign in verdict for sign in CORRUPTION), verdict


def test_the_same_pipeline_is_exact_with_flushes_only_at_element_boundaries():
    assert repro("--safe_runner", *THREADS) == "exact"


def test_values_encoded_by_compiled_code_are_never_cut():
    assert repro("--plain_values", "--runner=FnApiRunner", *THREADS) == "exact"


#: How a Prism run reading cut elements can also end without saying what it read: its job's state stream breaks
#: (a bare gRPC error), or the SDK worker's process dies in the compiled coder (SIGSEGV). Each was seen in whole
#: suites on a busy machine, never alone, where the decoding errors show.
UNTOLD = ("failed: _MultiThreadedRendezvous", "died with code -11")


def told_verdict(*args: str, attempts: int = 3) -> str:
    """The repro's verdict for `args`, run again (up to `attempts` in all) while it is UNTOLD."""
    verdict = repro(*args)
    for _ in range(attempts - 1):
        if not verdict.startswith(UNTOLD):
            break
        verdict = repro(*args)
    return verdict


def test_prism_reads_cut_elements_as_garbage_when_workers_flush_on_a_timer():
    """Without the timer the run is exact; with it, the reader decodes garbage (asked again while the run ends
    without saying what it read; after `attempts` such ends, those ends count: the same run is exact without the
    timer)."""
    prism = ["--keys=60", "--runner=PrismRunner", f"--prism_location={prism_location()}"]
    assert repro(*prism) == "exact"
    verdict = told_verdict(*prism, "--experiments=data_buffer_time_limit_ms=5")
    assert any(sign in verdict for sign in CORRUPTION) or verdict.startswith(UNTOLD), verdict
