"""W11 (issue 31): what conditional requests save when parents change and most of their child lists do not.

    python -m benchmarks.conditional_requests [--parents N] [--changed-share S] [--latency-ms L]

The sample API (in this process, `Faults.etags`: weak ETags, 304s not charged, as GitHub does) serves N parents
(`/items`, one day) and each parent's two notes (`/children/{id}/notes`, one page). A pipeline reads both; then
every parent changes (moves to the next day), and a share S of the note lists change with it
(`Faults.changing_paths`); a second run reads the changed parents and their note lists again. That is done twice,
in fresh folders, with `conditional_requests: false` (the baseline: every list read in full) and unset (the
default: each list sent with its last ETag). Each run is `python -m beam_api_pipeline run` in a process of its
own (CPU seconds from `os.wait4`). Printed: the second run's charged requests for the note lists, its 304
answers, the notes it wrote, its wall and CPU seconds, and the ratio of charged requests, against the issue's
target (a 90 % unchanged share costs 90 % fewer charged requests).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sample_api import Dataset, SampleApi  # noqa: E402
from sample_api.faults import Faults  # noqa: E402
from tests.support import NOTES_CHILD, items_config, read_jsonl, write_yaml  # noqa: E402

DAY, NEXT_DAY = datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, 12, tzinfo=UTC)


def run(config: Path, end_time: str) -> tuple[float, float]:
    """`run --config config --end_time end_time` in its own process: (wall s, CPU s)."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "beam_api_pipeline", "run", "--config", str(config), "--end_time", end_time]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"W11: {' '.join(command)} failed ({status})")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def contender(name: str, parents: int, changed: set[str], latency_ms: float, conditional: bool | None) -> dict:
    """Two runs of `name`'s config against a fresh API; the second run's figures."""
    faults = Faults(etags=True, changing_paths=frozenset(changed), latency_ms=latency_ms)
    folder = Path(tempfile.mkdtemp(prefix=f"bench-w11-{name}-"))
    with SampleApi(Dataset(start=DAY, days=1, records_per_day=parents), faults).start() as api:
        config = items_config(api.url, folder, api_config={"pagination": {"page_size": 100}})
        config["output"][0]["config"]["batch_size"] = 10_000
        config["api_config"]["endpoints"]["notes"] = {**NOTES_CHILD, "conditional_requests": conditional}
        path = write_yaml(folder / "pipeline.yaml", config)
        run(path, "2024-01-03")
        first_notes = len(read_jsonl(folder / "out" / "notes"))
        for parent in range(1, parents + 1):
            api.dataset.move_record(parent, NEXT_DAY)
        api.reset_stats()
        wall, cpu = run(path, "2024-01-04")
        notes = [status for _at, answered, status in api.answers() if answered.endswith("/notes")]
        written = len(read_jsonl(folder / "out" / "notes")) - first_notes
    return {
        "charged": sum(status != 304 for status in notes),
        "not_modified": notes.count(304),
        "written": written,
        "wall": wall,
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=1000)
    parser.add_argument("--changed-share", type=float, default=0.1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    step = round(1 / args.changed_share)
    changed = {f"/children/{parent}/notes" for parent in range(step, args.parents + 1, step)}
    figures = {
        name: contender(name, args.parents, changed, args.latency_ms, conditional)
        for name, conditional in (("without", False), ("with", None))
    }
    print(
        f"W11 conditional requests: {args.parents:,} parents changed, {len(changed):,} of their note lists changed, "
        f"{args.latency_ms:.0f} ms answers; the second run:"
    )
    for name, got in figures.items():
        print(
            f"  {name} conditional requests: {got['charged']:,} charged note requests, {got['not_modified']:,} "
            f"answered 304, {got['written']:,} notes written, wall {got['wall']:.1f} s, CPU {got['cpu']:.1f} s"
        )
    without, with_ = figures["without"], figures["with"]
    saved = 1 - with_["charged"] / without["charged"]
    print(
        f"W11 charged note requests: {with_['charged']:,} against {without['charged']:,}: {saved:.0%} fewer "
        f"(target: {1 - len(changed) / args.parents:.0%} fewer, the share of lists that did not change); "
        f"wall {with_['wall'] / without['wall']:.2f}x, CPU {with_['cpu'] / without['cpu']:.2f}x"
    )


if __name__ == "__main__":
    main()
