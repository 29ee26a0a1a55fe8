"""Issue 31 item 4, a quick start: the time from spawning `python -m beam_api_pipeline run` to its first request.

    python -m benchmarks.quick_start [--runs 5] [--root CHECKOUT ...]

A tiny run (one daily window of 10 records, one page) against the sample API served in this process. The clock
starts just before the process is spawned; "the first request" is the moment the sample API sends its first
data answer (`SampleApi.answers()`, `time.monotonic()`, the same system-wide clock as this process's), so it
includes the request's own round trip (about a millisecond here). Prints, for the min and the median of `--runs`
runs, the time to the first request and to the end of the run (the process's exit) and the CPU seconds of the
run (steadier than wall time on a shared machine), and the target line (first request <= 1.0 s). With
`--root`, the runs alternate between the named checkouts of this repository (a before and an after, measured on
the same machine at the same time) and each gets its lines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sample_api import Dataset, SampleApi, parse_instant

ROOT = Path(__file__).resolve().parent.parent
START, END = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"
TARGET_SECONDS = 1.0
#: As benchmarks.run: with Python's bytecode cache, as an installed package runs.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def tiny_config(url: str, folder: Path) -> Path:
    """A one-endpoint config of one daily window whose 10 records fit on one page, writing local files."""
    config = {
        "pipeline_id": "quick_start",
        "extractor_class": "rest",
        "api_config": {
            "base_url": url,
            "endpoints": {"items": {"path": "/items", "records_path": "items"}},
            "pagination": {"page_size": 100, "total_path": "total"},
            "watermark": {
                "enabled": True,
                "timestamp_field": "updated_at",
                "watermark_field": "since",
                "window_end_field": "until",
                "initial_watermark": START,
                "window": {"window_size": "24h"},
            },
        },
        "output": [{"type": "local", "config": {"path": str(folder / "rows")}}],
        "dead_letter": {"path": str(folder / "dead_letter")},
        "watermark_store": {"type": "local", "path": str(folder / "control.db")},
    }
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def one_run(api: SampleApi, folder: Path, root: Path = ROOT) -> tuple[float, float, float]:
    """Seconds from spawning the run of the package in `root` to the API's first data answer and to the
    process's exit, and the CPU seconds the process used."""
    folder.mkdir(parents=True)
    config = tiny_config(api.url, folder)
    command = [sys.executable, "-m", "beam_api_pipeline", "run", "--config", str(config)]
    command += ["--start_time", START, "--end_time", END]
    api.reset_stats()
    log = folder / "stderr.txt"
    with log.open("w") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=root, env={**ENV, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL, stderr=stderr
        )
        _, status, usage = os.wait4(process.pid, 0)
        ended = time.monotonic()
    if status != 0:
        raise RuntimeError(f"the tiny run failed:\n{log.read_text()[-2000:]}")
    answers = api.answers()
    if len(answers) != 1:
        raise RuntimeError(f"the tiny run sent {len(answers)} requests, not 1: {answers}")
    return answers[0][0] - started, ended - started, usage.ru_utime + usage.ru_stime


def measure(runs: int, roots: list[Path]) -> dict[Path, list[tuple[float, float, float]]]:
    """`runs` tiny runs of each checkout in `roots`, taking turns, against one sample API, each run into its own
    folder."""
    dataset = Dataset(parse_instant(START), 1, 10)
    results: dict[Path, list[tuple[float, float, float]]] = {root: [] for root in roots}
    with SampleApi(dataset).start() as api, tempfile.TemporaryDirectory(prefix="quick-start-") as work:
        for number in range(runs):
            for index, root in enumerate(roots):
                results[root].append(one_run(api, Path(work) / f"{index}-{number}", root))
    return results


def beam_import_seconds(runs: int) -> tuple[float, float]:
    """The least wall time and CPU seconds of `python -c "import apache_beam"` over `runs` processes: the part
    of the start that is Beam's alone (interpreter start included)."""
    times, cpu = [], []
    for _ in range(runs):
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-c", "import apache_beam"], env=ENV)
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.monotonic() - started)
        cpu.append(usage.ru_utime + usage.ru_stime)
        if status != 0:
            raise RuntimeError("python -c 'import apache_beam' failed")
    return min(times), min(cpu)


def lines(results: list[tuple[float, float, float]], label: str = "Quick start") -> list[str]:
    """The min and median to the first request and to the end, and the target line."""
    first, end, cpu = ([r[i] for r in results] for i in range(3))
    best = min(first)
    return [
        f"{label} ({len(results)} tiny runs: 1 window, 1 page): to the first request min {best:.2f} s, "
        f"median {statistics.median(first):.2f} s; to the end of the run min {min(end):.2f} s, "
        f"median {statistics.median(end):.2f} s; CPU s of the run min {min(cpu):.2f}, median "
        f"{statistics.median(cpu):.2f}",
        f"{label}: first request {best:.2f} s after spawning the run (target <= {TARGET_SECONDS:.1f} s): "
        + ("met" if best <= TARGET_SECONDS else "missed"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, action="append", help="a checkout to run (repeatable; default: this one)")
    args = parser.parse_args()
    roots = [root.resolve() for root in args.root or [ROOT]]
    for root, results in measure(args.runs, roots).items():
        label = "Quick start" if roots == [ROOT] else f"Quick start, {root}"
        for line in lines(results, label):
            print(line)
    wall, cpu = beam_import_seconds(args.runs)
    print(f"Quick start: `python -c 'import apache_beam'` alone takes {wall:.2f} s (min), {cpu:.2f} CPU s (min)")


if __name__ == "__main__":
    main()
