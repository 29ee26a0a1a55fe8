"""W9: what schemas cost per record, in one process: the sample API's records (drifted: `Faults.schema_drift`)
in batches of 1,000, through the steps every run (inference) or every endpoint with a recorded schema (its
contract) adds, each against the baseline of encoding the same rows as JSON lines (what a file output does to
every row anyway).

    .venv/bin/python -m benchmarks.schema_cost [--records N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import reduce

from beam_api_pipeline.outputs.jsonl import json_line_bytes
from beam_api_pipeline.schemas.contract import HeldSchema, apply_contract
from beam_api_pipeline.schemas.infer import infer_fields, merge_fields, observed_fields, settled_fields
from sample_api import Dataset
from sample_api.faults import Faults

BATCH = 1000
TIMESTAMPS = frozenset({"updated_at"})


def _seconds(step: Callable[[], object]) -> float:
    """The best of three timings of `step`."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        step()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    days = -(-args.records // 10_000)
    dataset = Dataset(datetime(2024, 1, 1, tzinfo=UTC), days, 10_000)
    faults = Faults(schema_drift=True)
    rows = [faults.record_json(record) for record in dataset.window()[: args.records]]
    batches = [rows[start : start + BATCH] for start in range(0, len(rows), BATCH)]
    recorded = HeldSchema(infer_fields([{key: value for key, value in rows[1].items() if key != "c"}], TIMESTAMPS))

    def encode() -> None:
        for row in rows:
            json_line_bytes(row)

    def infer() -> None:
        settled_fields(reduce(merge_fields, (observed_fields(batch, TIMESTAMPS) for batch in batches), []))

    fitting = [{key: value for key, value in row.items() if key != "c"} for row in rows]

    def hold(contract: str, held: list) -> Callable[[], None]:
        return lambda: [apply_contract(contract, recorded, row) for row in held]

    baseline = _seconds(encode)
    print(
        f"W9 schemas, {len(rows):,} records: JSON-lines encoding (baseline) {baseline / len(rows) * 1e6:.2f} us/record"
    )
    steps = {"schema inference (every run)": infer}
    steps["schema_contract evolve, rows that fit"] = hold("evolve", fitting)
    steps |= {
        f"schema_contract {name}, rows with a new field": hold(name, rows) for name in ("evolve", "discard_value")
    }
    for name, step in steps.items():
        seconds = _seconds(step)
        print(f"W9 {name}: {seconds / len(rows) * 1e6:.2f} us/record, {seconds / baseline:.2f}x the encoding")


if __name__ == "__main__":
    main()
