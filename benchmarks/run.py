"""Runs the benchmarks of issue 7 side by side against one sample API per workload and prints a table.

    python -m benchmarks.run [--only W1,W3,W3-floor,quick-start] [--skip-dlt]

W3 (issue 17: cost per record) and W5 run this pipeline with no runner options, the mode a new user gets, and
print their targets' lines; W6 (the rate-limit modes) runs `benchmarks.rate_limit_modes` and prints its own;
W7 (issue 15) reads 1,000 parents and their children, against a sequential loop over the same requests.
W8 (data quality checks) runs this pipeline over W3's 1,000,000 records (100 daily windows of 10,000, 1,000 a
page, the sample API's `--quality-fields` on) twice: as W3 runs it (the baseline), then with `quality` checks on
every record (not_null, accepted_values, range and regex with action warn, so every row is written, and `unique`
on `id`); it prints the ratios checked / baseline of wall time, CPU seconds per 100,000 records and peak RSS.
W10 (issue 30) runs `benchmarks.avro_loads` inside `tests/integration/emulators.sh run`: BigQuery file loads of
100,000 rows into the emulator from JSON against Avro temp files, rows/s and CPU s per 100k, and their ratio.
W3-floor (issue 31) is hidden-style W3: 300,000 records in 30 daily windows of 10,000, 500 a page, no latency; the
sequential loop, then this pipeline with `primary_key`, then without, in the default mode; it prints the wall and
CPU-per-100k ratios to the loop against their targets (<= 2.0 and <= 1.5). quick-start (issue 31) runs
`benchmarks.quick_start`: the time from spawning a one-window, one-page run to its first request (min of 5).
W11 (issue 31) runs `benchmarks.conditional_requests`: 1,000 changed parents, 10 % of their child lists changed,
read again with and without conditional requests; the charged requests of each.
The memory curve (`curve`, issue 31) runs this pipeline over 100,000, 300,000, 1,000,000 and 3,000,000 records
(W3's windows: 10, 30, 100 and 300 days) without and with `primary_key` and with W8's checks, and prints each
variant's peak RSS against its own at 100,000 records.

Each contender runs in its own process (CPU seconds and peak RSS come from `os.wait4`); the sample API runs
in another. The extraction phase is the time from the API's first data request to its last, from polling
`/_stats` every 20 ms. dlt runs in its own virtualenv (`DLT_VENV`, default /tmp/dlt-venv; created with
`pip install dlt[filesystem]` when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
DLT_VENV = Path(os.environ.get("DLT_VENV", "/tmp/dlt-venv"))
START = "2024-01-01T00:00:00Z"
POLL_SECONDS = 0.02
#: Contenders run with Python's bytecode cache, as an installed package does (pip compiles it; so do Dataflow's
#: workers): with PYTHONDONTWRITEBYTECODE set, every run would compile this repository's modules again.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = str(ROOT)


@dataclass
class Outcome:
    workload: str
    contender: str
    wall: float
    extraction: float
    requests: int
    rate_limited: int
    records: int
    cpu: float
    peak_rss_mb: float
    limit_rps: float | None
    max_in_flight: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.extraction if self.extraction else 0.0

    @property
    def records_per_second(self) -> float:
        return self.records / self.wall if self.wall else 0.0

    @property
    def ratio_to_limit(self) -> str:
        ok = self.requests - self.rate_limited
        return f"{ok / self.extraction / self.limit_rps:.0%}" if self.limit_rps and self.extraction else "-"


class Api:
    """The sample API in a subprocess, with a thread polling its stats."""

    def __init__(
        self,
        days: int,
        records_per_day: int,
        latency_ms: float = 0,
        rate_limit: float | None = None,
        quality_fields: bool = False,
    ):
        command = [sys.executable, "-m", "sample_api", "--start", START, "--days", str(days)]
        command += ["--records-per-day", str(records_per_day), "--latency-ms", str(latency_ms)]
        if rate_limit:
            command += ["--rate-limit", str(rate_limit), "--retry-after", "1"]
        if quality_fields:
            command.append("--quality-fields")
        self._process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.url = self._process.stdout.readline().split()[-1]

    def stats(self) -> dict:
        return requests.get(self.url + "/_stats", timeout=5).json()

    def reset(self) -> None:
        requests.get(self.url + "/_stats", timeout=5)  # warm
        self._baseline = self.stats()

    def close(self) -> None:
        self._process.terminate()
        self._process.wait()


class Poller(threading.Thread):
    """Records when the API saw its first and its last data request."""

    def __init__(self, api: Api):
        super().__init__(daemon=True)
        self._api = api
        self._done = threading.Event()
        self._start_count = api.stats()["requests"]
        self.first = self.last = None
        self._count = self._start_count

    def run(self) -> None:
        while not self._done.is_set():
            count = self._api.stats()["requests"]
            now = time.monotonic()
            if count != self._count:
                self.first = self.first or now - POLL_SECONDS / 2
                self.last = now
                self._count = count
            time.sleep(POLL_SECONDS)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return (self.last - self.first) if self.first else 0.0


def count_records(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*.jsonl"):
        with path.open("rb") as handle:
            total += sum(1 for _ in handle)
    return total


def run_contender(workload: str, name: str, command: list[str], api: Api, out: Path, limit: float | None) -> Outcome:
    command = [part.replace("{url}", api.url) for part in command]
    before = api.stats()
    poller = Poller(api)
    poller.start()
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr_lines: list[str] = []
    reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True)
    reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    extraction = poller.stop()
    reader.join()
    if status != 0:
        print(f"{workload} {name} failed:\n{''.join(stderr_lines[-20:])}", file=sys.stderr)
    after = api.stats()
    by_status_before, by_status_after = before["by_status"], after["by_status"]
    limited = by_status_after.get("429", 0) - by_status_before.get("429", 0)
    return Outcome(
        workload,
        name,
        wall,
        extraction,
        after["requests"] - before["requests"],
        limited,
        count_records(out),
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        limit,
        after["max_in_flight"],
    )


def ensure_dlt() -> Path | None:
    python = DLT_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "dlt[filesystem]"], check=True)
    return python


def contenders(days: int, page_size: int, work: Path, dlt: Path | None, pipeline_args: list[str]):
    common = ["--url", "{url}", "--start", START, "--days", str(days), "--page-size", str(page_size)]
    loop_out = work / "loop"
    loop_out.mkdir(parents=True)
    yield (
        "requests loop",
        [sys.executable, str(HERE / "sequential_loop.py"), *common, "--out", str(loop_out / "out.jsonl")],
        loop_out,
    )
    if dlt is not None:
        dlt_out = work / "dlt"
        yield "dlt rest_api", [str(dlt), str(HERE / "dlt_source.py"), *common, "--out", str(dlt_out)], dlt_out
    yield from pipeline_contender("this pipeline", days, page_size, work / "pipeline", pipeline_args)


def pipeline_contender(name: str, days: int, page_size: int, out: Path, extra: list[str]):
    command = [sys.executable, str(HERE / "pipeline_run.py"), "--url", "{url}", "--start", START, "--days", str(days)]
    yield name, [*command, "--page-size", str(page_size), "--out", str(out), *extra], out / "rows"


def workload(name, api_kwargs, days, page_size, limit, dlt, pipeline_args, runs=None) -> list[Outcome]:
    api = Api(days=days, **api_kwargs)
    outcomes = []
    try:
        for contender, command, out in runs or contenders(days, page_size, WORK / name, dlt, pipeline_args):
            print(f"  {name}: {contender} ...", file=sys.stderr, flush=True)
            outcomes.append(run_contender(name, contender, command, api, out, limit))
    finally:
        api.close()
    return outcomes


def w4(runner: list[str]) -> list[dict]:
    results = []
    for records in (100_000, 500_000):
        api = Api(days=1, records_per_day=records)
        try:
            command = [*runner, str(HERE / "fetch_memory.py"), "--url", api.url, "--start", START]
            output = subprocess.run(command, cwd=ROOT, env=ENV, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(output))
        finally:
            api.close()
    return results


def default_mode_line(outcomes: list[Outcome]) -> str:
    """W5: this pipeline with no runner options against the sequential loop of the same run (target <= 1/5)."""
    loop = next(o for o in outcomes if o.contender == "requests loop")
    pipeline = next(o for o in outcomes if o.contender == "this pipeline")
    if pipeline.records != loop.records:
        return f"W5 default mode: this pipeline wrote {pipeline.records} of {loop.records} records: no ratio"
    return (
        f"W5 default mode: this pipeline {pipeline.wall:.1f} s, requests loop {loop.wall:.1f} s: "
        f"ratio {pipeline.wall / loop.wall:.2f} (target <= 0.20)"
    )


#: W3 (issue 17): no latency, 100 daily windows of 10,000 records at 1,000 a page, in the default local mode.
W3_DAYS, W3_PER_DAY, W3_PAGE = 100, 10_000, 1000


def w3_runs(dlt: Path | None):
    """The loop, dlt and this pipeline over 1,000,000 records; this pipeline again with `primary_key` and over
    the first 100,000 records (for the memory ratio). No runner options: the mode a new user gets."""
    work, fetch = WORK / "W3", ["--max-concurrent", "16"]
    yield from contenders(W3_DAYS, W3_PAGE, work, dlt, fetch)
    pk = [*fetch, "--primary-key", "id"]
    yield from pipeline_contender("this pipeline, primary_key", W3_DAYS, W3_PAGE, work / "pk", pk)
    yield from pipeline_contender("this pipeline, 100,000 records", W3_DAYS // 10, W3_PAGE, work / "small", fetch)


def cpu_per_100k(outcome: Outcome) -> float:
    return outcome.cpu / outcome.records * 100_000 if outcome.records else float("nan")


def cost_lines(w3: list[Outcome]) -> list[str]:
    """Issue 17's targets, from W3's contenders of one run."""
    by_name = {o.contender: o for o in w3}
    pipeline, keyed = by_name["this pipeline"], by_name["this pipeline, primary_key"]
    small, loop = by_name["this pipeline, 100,000 records"], by_name["requests loop"]
    expected = W3_DAYS * W3_PER_DAY
    if {pipeline.records, keyed.records, loop.records} != {expected} or small.records != expected // 10:
        return [f"W3: a contender wrote the wrong number of records ({[o.records for o in w3]}): no ratios"]
    lines = [
        f"W3 CPU s per 100,000 records: this pipeline {cpu_per_100k(pipeline):.2f} (target <= 0.7), "
        f"with primary_key {cpu_per_100k(keyed):.2f} (target <= 1.0), requests loop {cpu_per_100k(loop):.2f}",
        f"W3 peak RSS: 1,000,000 records {pipeline.peak_rss_mb:.0f} MB, 100,000 records {small.peak_rss_mb:.0f} MB: "
        f"{pipeline.peak_rss_mb / small.peak_rss_mb:.2f}x (target < 1.5)",
        f"W3 cost: {pipeline.cpu / pipeline.records * 1e6:.1f} vCPU-seconds per million records "
        f"({keyed.cpu / keyed.records * 1e6:.1f} with primary_key)",
    ]
    dlt = by_name.get("dlt rest_api")
    if dlt is not None:
        lines.insert(
            0,
            f"W3 records/s: this pipeline {pipeline.records_per_second:,.0f}, dlt {dlt.records_per_second:,.0f}: "
            f"{pipeline.records_per_second / dlt.records_per_second:.2f}x dlt (target >= 2); dlt CPU s per "
            f"100,000 records {cpu_per_100k(dlt):.2f}",
        )
    return lines


def table(outcomes: list[Outcome]) -> str:
    head = (
        "| workload | contender | wall s | extraction s | requests | 429s | req/s | records | records/s | CPU s"
        " | peak RSS MB | max in flight | of limit |"
    )
    rows = [head, "|" + "---|" * 13]
    for o in outcomes:
        rows.append(
            f"| {o.workload} | {o.contender} | {o.wall:.1f} | {o.extraction:.1f} | {o.requests} | {o.rate_limited} | "
            f"{o.requests_per_second:.0f} | {o.records} | {o.records_per_second:.0f} | {o.cpu:.1f} | "
            f"{o.peak_rss_mb:.0f} | {o.max_in_flight} | {o.ratio_to_limit} |"
        )
    return "\n".join(rows)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        model = cpu
    return f"{model}, {os.cpu_count()} CPUs visible, Python {platform.python_version()}, {platform.system()}"


#: W7 (issue 15): 1,000 parents (one day, 100 a page) with 1-3 pages of 10 children each, 50 ms answers.
W7_PARENTS, W7_LATENCY_MS, W7_IN_FLIGHT = 1000, 50, 16


def w7_runs():
    """The sequential loop over parents and their children, and this pipeline with a dependent endpoint and
    16 requests in flight, in the default local mode."""
    common = ["--url", "{url}", "--start", START, "--days", "1", "--page-size", "100"]
    loop_out = WORK / "W7" / "loop"
    loop_out.mkdir(parents=True)
    loop = [
        sys.executable,
        str(HERE / "sequential_loop.py"),
        *common,
        "--children",
        "--out",
        str(loop_out / "out.jsonl"),
    ]
    yield "requests loop, parents and children", loop, loop_out
    children = ["--children", "--max-concurrent", str(W7_IN_FLIGHT)]
    yield from pipeline_contender("this pipeline, parents and children", 1, 100, WORK / "W7" / "pipeline", children)


def children_line(outcomes: list[Outcome]) -> str:
    """W7: the sequential loop's wall time over this pipeline's (target >= 8)."""
    loop, pipeline = outcomes
    if pipeline.records != loop.records:
        return f"W7 dependent endpoints: this pipeline wrote {pipeline.records} of {loop.records} records: no ratio"
    return (
        f"W7 dependent endpoints: {loop.requests} requests; requests loop {loop.wall:.1f} s, this pipeline "
        f"{pipeline.wall:.1f} s: {loop.wall / pipeline.wall:.1f}x faster (target >= 8x)"
    )


#: W8 (data quality): one check of each kind that judges rows, on the sample API's quality fields (which fail
#: a few percent of rows: spam, -1 comments, http:// links), all with action warn so that every row is written.
W8_CHECKS = [
    {"check": "not_null", "field": "ref"},
    {"check": "accepted_values", "field": "state", "values": ["open", "closed"]},
    {"check": "range", "field": "comments", "min": 0, "max": 100},
    {"check": "regex", "field": "html_url", "pattern": "^https://"},
    {"check": "unique", "field": "id"},
]


def w8_runs():
    """This pipeline over W3's records as W3 runs it, then the same config with W8_CHECKS on `items`."""
    baseline, checked = WORK / "W8" / "baseline", WORK / "W8" / "checked"
    yield from pipeline_contender("this pipeline, no checks", W3_DAYS, W3_PAGE, baseline, ["--max-concurrent", "16"])
    # pipeline_run.py wrote the baseline's config when it ran: the checked run reads the same, into its own folder.
    config = yaml.safe_load((baseline / "pipeline.yaml").read_text().replace(str(baseline), str(checked)))
    config["api_config"]["endpoints"]["items"]["quality"] = W8_CHECKS
    checked.mkdir(parents=True)
    (checked / "pipeline.yaml").write_text(yaml.safe_dump(config))
    end = datetime.fromisoformat(START) + timedelta(days=W3_DAYS)
    command = [sys.executable, "-m", "beam_api_pipeline", "run", "--config", str(checked / "pipeline.yaml")]
    command += ["--start_time", START, "--end_time", end.strftime("%Y-%m-%dT%H:%M:%SZ")]
    yield "this pipeline, quality checks", command, checked / "rows"


def quality_lines(w8: list[Outcome]) -> list[str]:
    """W8: what the checks cost, as ratios of the checked run to the baseline."""
    baseline, checked = w8
    if baseline.records != checked.records:
        return [f"W8 quality checks: the checked run wrote {checked.records} of {baseline.records} records: no ratios"]
    return [
        f"W8 quality checks / none: wall {checked.wall / baseline.wall:.2f}x ({baseline.wall:.1f} s, "
        f"{checked.wall:.1f} s); CPU s per 100,000 records {cpu_per_100k(checked) / cpu_per_100k(baseline):.2f}x "
        f"({cpu_per_100k(baseline):.2f}, {cpu_per_100k(checked):.2f}); peak RSS "
        f"{checked.peak_rss_mb / baseline.peak_rss_mb:.2f}x ({baseline.peak_rss_mb:.0f} MB, "
        f"{checked.peak_rss_mb:.0f} MB)"
    ]


#: W3-floor (issue 31 item 3): hidden-style W3, 30 daily windows of 10,000 records at 500 a page, no latency.
FLOOR_DAYS, FLOOR_PER_DAY, FLOOR_PAGE = 30, 10_000, 500


def floor_runs():
    """The sequential loop, then this pipeline with `primary_key`, then without, all in the default local mode."""
    work = WORK / "W3-floor"
    common = ["--url", "{url}", "--start", START, "--days", str(FLOOR_DAYS), "--page-size", str(FLOOR_PAGE)]
    (work / "loop").mkdir(parents=True)
    loop = [sys.executable, str(HERE / "sequential_loop.py"), *common, "--out", str(work / "loop" / "out.jsonl")]
    yield "requests loop", loop, work / "loop"
    fetch = ["--max-concurrent", "16"]
    pk = [*fetch, "--primary-key", "id"]
    yield from pipeline_contender("this pipeline, primary_key", FLOOR_DAYS, FLOOR_PAGE, work / "pk", pk)
    yield from pipeline_contender("this pipeline", FLOOR_DAYS, FLOOR_PAGE, work / "plain", fetch)


def floor_lines(outcomes: list[Outcome]) -> list[str]:
    """Issue 31 item 3: this pipeline with `primary_key` against the sequential loop of the same run."""
    by_name = {o.contender: o for o in outcomes}
    loop, keyed, plain = by_name["requests loop"], by_name["this pipeline, primary_key"], by_name["this pipeline"]
    expected = FLOOR_DAYS * FLOOR_PER_DAY
    if {loop.records, keyed.records, plain.records} != {expected}:
        return [f"W3-floor: a contender wrote the wrong number of records ({[o.records for o in outcomes]})"]
    return [
        f"W3-floor wall: primary_key {keyed.wall:.2f} s, plain {plain.wall:.2f} s, requests loop {loop.wall:.2f} s: "
        f"{keyed.wall / loop.wall:.2f}x the loop with primary_key (target <= 2.0), {plain.wall / loop.wall:.2f}x "
        "without",
        f"W3-floor CPU s per 100,000 records: primary_key {cpu_per_100k(keyed):.2f}, plain {cpu_per_100k(plain):.2f}, "
        f"requests loop {cpu_per_100k(loop):.2f}: {cpu_per_100k(keyed) / cpu_per_100k(loop):.2f}x the loop with "
        "primary_key (target <= 1.5)",
    ]


#: The memory curve (issue 31): W3's windows (daily, 10,000 records, 1,000 a page, the quality fields on) over
#: 100,000 to 3,000,000 records, as W3 runs this pipeline, with `primary_key`, and with W8_CHECKS.
CURVE_DAYS = (10, 30, 100, 300)
CURVE_VARIANTS = {
    "no primary_key": [],
    "primary_key": ["--primary-key", "id"],
    "quality checks": ["--quality", json.dumps(W8_CHECKS)],
}


def curve_runs(days: int):
    """This pipeline over `days` of the curve's windows, in each of CURVE_VARIANTS."""
    for variant, extra in CURVE_VARIANTS.items():
        out = WORK / f"curve{days}" / variant.replace(" ", "_")
        fetch = ["--max-concurrent", "16", *extra]
        yield from pipeline_contender(f"this pipeline, {variant}", days, W3_PAGE, out, fetch)


def curve_lines(curve: list[Outcome]) -> list[str]:
    """Peak RSS by records for each variant, and each size's ratio to 100,000 records (target at 1M: <= 1.3)."""
    lines = []
    for variant in CURVE_VARIANTS:
        runs = [o for o in curve if o.contender == f"this pipeline, {variant}"]
        base = runs[0]
        points = ", ".join(
            f"{o.records:,} {o.peak_rss_mb:.0f} MB ({o.peak_rss_mb / base.peak_rss_mb:.2f}x, {o.wall:.1f} s, "
            f"{cpu_per_100k(o):.2f} CPU s/100k)"
            for o in runs
        )
        lines.append(f"memory curve, {variant}: {points}")
    return lines


WORK = Path(tempfile.mkdtemp(prefix="bench-"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="W1,W2,W3,W3-floor,W4,W5,W6,W7,W8,W10,W11,curve,scaling,quick-start")
    parser.add_argument("--skip-dlt", action="store_true")
    parser.add_argument("--runner-args", default="", help="extra DirectRunner options for this pipeline")
    args = parser.parse_args()
    only = set(args.only.split(","))
    dlt = None if args.skip_dlt else ensure_dlt()
    runner_args = args.runner_args.split()
    outcomes: list[Outcome] = []
    print(f"machine: {machine()}", file=sys.stderr)
    if "W1" in only:
        w1 = ["--max-concurrent", "16", *runner_args]
        outcomes += workload("W1", {"records_per_day": 2000, "latency_ms": 50}, 60, 100, 16 / 0.05, dlt, w1)
    if "W2" in only:
        w2 = ["--max-concurrent", "16", "--rate-limit", "40", *runner_args]
        outcomes += workload("W2", {"records_per_day": 2000, "rate_limit": 40}, 20, 100, 40, None, w2)
    if "W3" in only:
        w3 = workload("W3", {"records_per_day": W3_PER_DAY}, W3_DAYS, W3_PAGE, None, dlt, [], w3_runs(dlt))
        outcomes += w3
        for line in cost_lines(w3):
            print(line, file=sys.stderr)
    if "W3-floor" in only:
        floor = workload(
            "W3-floor", {"records_per_day": FLOOR_PER_DAY}, FLOOR_DAYS, FLOOR_PAGE, None, None, [], floor_runs()
        )
        outcomes += floor
        for line in floor_lines(floor):
            print(line, file=sys.stderr)
    if "W5" in only:
        w5_api = {"records_per_day": 2000, "latency_ms": 50}
        w5 = workload("W5", w5_api, 31, 100, 16 / 0.05, None, ["--primary-key", "id"])
        outcomes += w5
        print(default_mode_line(w5), file=sys.stderr)
    if "W7" in only:
        w7_api = {"records_per_day": W7_PARENTS, "latency_ms": W7_LATENCY_MS}
        w7 = workload("W7", w7_api, 1, 100, W7_IN_FLIGHT / (W7_LATENCY_MS / 1000), None, [], w7_runs())
        outcomes += w7
        print(children_line(w7), file=sys.stderr)
    if "W8" in only:
        w8_api = {"records_per_day": W3_PER_DAY, "quality_fields": True}
        w8 = workload("W8", w8_api, W3_DAYS, W3_PAGE, None, None, [], w8_runs())
        outcomes += w8
        for line in quality_lines(w8):
            print(line, file=sys.stderr)
    if "curve" in only:
        curve = []
        for days in CURVE_DAYS:
            curve_api = {"records_per_day": W3_PER_DAY, "quality_fields": True}
            curve += workload(f"curve {days}d", curve_api, days, W3_PAGE, None, None, [], curve_runs(days))
        outcomes += curve
        for line in curve_lines(curve):
            print(line, file=sys.stderr)
    if "scaling" in only:
        for cap in (4, 8, 16, 32):
            name = f"W1 x{cap}"
            runs = pipeline_contender(
                f"this pipeline, {cap} in flight", 60, 100, WORK / name, ["--max-concurrent", str(cap), *runner_args]
            )
            outcomes += workload(name, {"records_per_day": 2000, "latency_ms": 50}, 60, 100, cap / 0.05, None, [], runs)
    print(table(outcomes))
    if "W4" in only:
        print()
        print("| W4 window | fetch DoFn peak MB (peak RSS - RSS after setup) |")
        print("|---|---|")
        for result in w4([sys.executable]):
            print(f"| {result['records']:,} records | {result['dofn_mb']:.1f} |")
    if "W6" in only:
        print()
        subprocess.run([sys.executable, "-m", "benchmarks.rate_limit_modes"], cwd=ROOT, env=ENV, check=True)
    if "W10" in only:
        print()
        emulators = [str(ROOT / "tests" / "integration" / "emulators.sh"), "run"]
        subprocess.run([*emulators, sys.executable, "-m", "benchmarks.avro_loads"], cwd=ROOT, env=ENV, check=True)
    if "W11" in only:
        print()
        subprocess.run([sys.executable, "-m", "benchmarks.conditional_requests"], cwd=ROOT, env=ENV, check=True)
    if "quick-start" in only:
        print()
        subprocess.run([sys.executable, "-m", "benchmarks.quick_start"], cwd=ROOT, env=ENV, check=True)
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
