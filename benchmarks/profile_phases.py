"""Where a run's CPU goes, by phase, from a py-spy profile of the threads holding the GIL.

    py-spy record --gil -r 200 -f raw -o run.raw -- python -m beam_api_pipeline run --config ...
    python -m benchmarks.profile_phases run.raw

Each sample is counted in the first phase whose marker appears in its stack (so JSON decoding inside the
client counts as decoding, not as HTTP); the table gives seconds (samples / rate) and shares.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("imports", ("_find_and_load",)),
    ("JSON decoding of answers", ("ApiClient._decode",)),
    ("HTTP (requests, urllib3)", ("ApiClient._send_once",)),
    ("placement (window, primary key)", ("_PlaceRecordsFn",)),
    ("de-duplication (bucket, keep newest)", ("KeepNewestFn", "bucketed")),
    ("transform and metadata", ("_ApplyTransformFn",)),
    ("JSON lines encoding", ("_JsonLinesFilesFn",)),
    ("file writes", ("_WriteBundleDoFn", "FileBasedSinkWriter")),
    ("fetch DoFns (claim, emit)", ("FetchRangeFn", "WalkPagesFn", "PlanRangesFn")),
    ("Beam: element coding and dispatch", ("process_encoded", "DataOutputOperation")),
    ("Beam: gRPC data and control planes", ("grpc/", "data_plane.py", "sdk_worker.py")),
    ("Beam: graph, runner, shuffle buffers", ("fn_runner.py", "pipeline.py", "execution.py", "translations.py")),
)


def phase_seconds(lines: list[str], rate: float) -> tuple[Counter, float]:
    """Seconds per phase (and "other") and the total, from py-spy's raw lines (`frame;frame;... count`)."""
    seconds: Counter = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        phase = next((name for name, markers in PHASES if any(m in stack for m in markers)), "other")
        seconds[phase] += int(count) / rate
    return seconds, sum(seconds.values())


def top_frames(lines: list[str], rate: float, limit: int) -> list[tuple[str, float]]:
    """The functions with the most samples of their own (the innermost frame), in seconds."""
    own: Counter = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        own[re.sub(r":\d+\)", ")", stack.split(";")[-1])] += int(count) / rate
    return own.most_common(limit)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", help="py-spy record --format raw output")
    parser.add_argument("--rate", type=float, default=200, help="the samples a second given to py-spy (-r)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    with open(args.profile) as handle:
        lines = [line for line in handle if line.strip()]
    seconds, total = phase_seconds(lines, args.rate)
    print(f"| phase | seconds | share |  (total {total:.1f} s holding the GIL)\n|---|---|---|")
    for name, value in seconds.most_common():
        print(f"| {name} | {value:.2f} | {value / total:.0%} |")
    print("\n| function (own samples) | seconds |\n|---|---|")
    for frame, value in top_frames(lines, args.rate, args.top):
        print(f"| {frame or '(native)'} | {value:.2f} |")


if __name__ == "__main__":
    main()
