"""Running the command line in a test and reading everything a user would check afterwards."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control.store import opened_store
from tests.support import read_jsonl, write_yaml

#: The benchmark's workload (`make bench`): 2,000 records a day, 30 daily windows, 60,000 records.
START, END = "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z"
RECORDS_PER_DAY = 2000


@dataclass
class Outcome:
    """What a run left behind: exit code, rows on disk, dead letters, the run record and the watermarks."""

    exit_code: int
    rows: list[dict[str, Any]]
    lines_on_disk: int
    dead_letters: list[dict[str, Any]]
    run: Any
    watermarks: dict[str, datetime | None]
    report: dict[str, Any]

    @property
    def ids(self) -> list[Any]:
        return [row["id"] for row in self.rows]


def run_pipeline(config: dict[str, Any], folder: Path, *args: str) -> Outcome:
    """Write `config` under `folder`, run it with the command line and `args`, and read what it left."""
    path = write_yaml(folder / "pipeline.yaml", config)
    report_path = folder / "report.json"
    code = main(["run", "--config", str(path), "--no_progress", "--report_json", str(report_path), *args])
    loaded = load_pipeline_config(path)
    with opened_store(loaded.watermark_store) as store:
        run = store.list_runs(loaded.pipeline_id)[0]
        watermarks = {e: store.get_watermark(loaded.pipeline_id, e) for e in loaded.api_config.endpoints}
    out = folder / "out"
    files = sorted(out.rglob("*.jsonl"))
    return Outcome(
        exit_code=code,
        rows=read_jsonl(out),
        lines_on_disk=sum(len(f.read_text().splitlines()) for f in files),
        dead_letters=read_jsonl(folder / "dead_letter"),
        run=run,
        watermarks=watermarks,
        report=json.loads(report_path.read_text()) if report_path.exists() else {},
    )
