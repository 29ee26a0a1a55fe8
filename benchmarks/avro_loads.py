"""W10: BigQuery file loads into the (patched) BigQuery emulator from JSON temp files against Avro temp files, in
one invocation, on the same rows: 100,000 by default, each with a TIMESTAMP, a nested RECORD (with a TIMESTAMP and
a REPEATED INTEGER) and a REPEATED STRING, written by the BigQuery output (`file_loads`, a declared schema,
`schema_contract: freeze`) on 4 worker threads.

    tests/integration/emulators.sh run .venv/bin/python -m benchmarks.avro_loads [--records N] [--repeats R]

The runs set the output's `temp_file_format` to `avro` or `json`; `json` is the output as it was before Avro
(its check of each row, then Beam's JSON temp files). Each run is a
process of its own (CPU seconds from `os.wait4`, start-up included), into a table of its own; the emulator's CPU
seconds are read from /proc before and after each run. Runs alternate JSON, Avro, Avro, JSON, ... so that a
change of the machine's load hits both; every run's table is checked to hold exactly the rows written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS_PER_SEED = 1000
SCHEMA = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "updated_at", "type": "TIMESTAMP", "mode": "REQUIRED"},
    {"name": "title", "type": "STRING"},
    {"name": "value", "type": "INTEGER"},
    {"name": "tags", "type": "STRING", "mode": "REPEATED"},
    {
        "name": "user",
        "type": "RECORD",
        "fields": [
            {"name": "login", "type": "STRING"},
            {"name": "seen_at", "type": "TIMESTAMP"},
            {"name": "ranks", "type": "INTEGER", "mode": "REPEATED"},
        ],
    },
]


def rows_of(seed: int) -> list[dict]:
    """The ROWS_PER_SEED rows of `seed`, as the API gives them (times as ISO 8601 text)."""
    rows = []
    for i in range(seed * ROWS_PER_SEED, (seed + 1) * ROWS_PER_SEED):
        stamp = f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}.{i % 1000:03d}Z"
        user = {"login": f"user{i % 50}", "seen_at": stamp, "ranks": [i % 3, i % 5]}
        rows.append(
            {
                "id": i,
                "updated_at": stamp,
                "title": f"title {i}",
                "value": i % 100,
                "tags": ["a", "b"],
                **{"user": user},
            }
        )
    return rows


def one_run(file_format: str, dataset: str, table: str, records: int) -> None:
    """Write `records` rows into `dataset.table` with `file_format` temp files; print the run's wall seconds."""
    import apache_beam as beam

    from beam_api_pipeline.config import PipelineConfig
    from beam_api_pipeline.core.beam_options import ViewOnceOptions
    from beam_api_pipeline.core.runners import SafeFnApiRunner
    from beam_api_pipeline.gcp.clients import default_project, use_emulators
    from beam_api_pipeline.outputs.write import WriteOutputs
    from beam_api_pipeline.run.factory import PipelineFactory
    from tests.support import items_config

    use_emulators()
    output = {"type": "bigquery", "config": {"dataset_id": dataset, "table_id": table, "method": "file_loads"}}
    output["config"]["temp_file_format"] = file_format
    output["config"]["schema"] = SCHEMA
    endpoints = {"items": {"schema_contract": "freeze"}}
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    config = PipelineConfig.model_validate(
        items_config("http://127.0.0.1:9", folder, output=[output], api_config={"endpoints": endpoints})
    )
    writer = PipelineFactory.output_of(config, 0, f"bench-{uuid.uuid4().hex[:8]}")
    bucket = os.environ.get("EMULATOR_BUCKET", "test-bucket")
    options = ViewOnceOptions(
        [
            "--direct_num_workers=4",
            "--direct_running_mode=multi_threading",
            f"--project={default_project()}",
            f"--temp_location=gs://{bucket}/bench/{uuid.uuid4().hex[:8]}",
        ]
    )
    started = time.perf_counter()
    with beam.Pipeline(runner=SafeFnApiRunner(), options=options) as pipeline:
        seeds = pipeline | beam.Create(range(-(-records // ROWS_PER_SEED)))
        batches = seeds | beam.Map(rows_of)
        _ = {"items": batches} | WriteOutputs([writer])
    print(json.dumps({"wall": time.perf_counter() - started}))


def emulator_pid() -> int:
    """The BigQuery emulator's process: the one whose command line names BIGQUERY_EMULATOR_HOST's port."""
    port = os.environ["BIGQUERY_EMULATOR_HOST"].rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"bqemulator" in word for word in words) and port.encode() in words:
            return int(entry.name)
    raise SystemExit(f"no bqemulator process with --rest-port {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each format")
    parser.add_argument("--one", nargs=3, metavar=("FORMAT", "DATASET", "TABLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_run(*args.one, args.records)
        return
    if not os.environ.get("BIGQUERY_EMULATOR_HOST"):
        raise SystemExit("W10 needs the emulators: tests/integration/emulators.sh run python -m benchmarks.avro_loads")
    from beam_api_pipeline.gcp.clients import bigquery_client, use_emulators

    use_emulators()
    client = bigquery_client()
    dataset = f"bench_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    emulator = emulator_pid()
    order = [("json", "avro") if repeat % 2 == 0 else ("avro", "json") for repeat in range(args.repeats)]
    results: dict[str, list[tuple[float, float, float]]] = {"json": [], "avro": []}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for index, file_format in enumerate(name for pair in order for name in pair):
        table = f"{file_format}_{index}"
        command = [sys.executable, "-m", "benchmarks.avro_loads", "--records", str(args.records)]
        emulator_before = cpu_seconds(emulator)
        child = subprocess.Popen(
            [*command, "--one", file_format, dataset, table], cwd=ROOT, env=env, stdout=subprocess.PIPE
        )
        out = child.stdout.read()
        _pid, status, usage = os.wait4(child.pid, 0)
        if status:
            raise SystemExit(f"W10 {file_format} run failed ({status})")
        wall = json.loads(out.splitlines()[-1])["wall"]
        emulator_cpu = cpu_seconds(emulator) - emulator_before
        count = next(
            iter(client.query(f"SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM `{dataset}.{table}`").result())
        )
        if (count["n"], count["ids"]) != (args.records, args.records):
            raise SystemExit(
                f"W10 {file_format}: the table holds {count['n']} rows ({count['ids']} ids), not {args.records}"
            )
        results[file_format].append((wall, usage.ru_utime + usage.ru_stime, emulator_cpu))
    client.delete_dataset(dataset, delete_contents=True)
    per_100k = 100_000 / args.records
    summary = {}
    for file_format, runs in results.items():
        wall = min(run[0] for run in runs)
        cpu = min(run[1] for run in runs) * per_100k
        emulator_cpu = min(run[2] for run in runs) * per_100k
        summary[file_format] = (args.records / wall, cpu, emulator_cpu)
        print(
            f"W10 file loads, {args.records:,} rows, {file_format.upper()} temp files: "
            f"{args.records / wall:,.0f} rows/s, "
            f"{cpu:.1f} CPU s per 100k (pipeline process), {emulator_cpu:.1f} CPU s per 100k (emulator); runs: "
            + ", ".join(f"{run[0]:.1f} s wall / {run[1]:.1f} CPU s" for run in runs)
        )
    (json_rate, json_cpu, json_emulator), (avro_rate, avro_cpu, avro_emulator) = summary["json"], summary["avro"]
    print(
        f"W10 Avro / JSON: rows/s {avro_rate / json_rate:.2f}x, pipeline CPU {avro_cpu / json_cpu:.2f}x, "
        f"emulator CPU {avro_emulator / json_emulator:.2f}x (load average {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()
