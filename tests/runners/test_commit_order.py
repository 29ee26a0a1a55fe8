"""The watermark waits for the sinks on Prism too: with a slow sink, the control store changes only after every
file is in place."""

from __future__ import annotations

import sqlite3
import threading
import time

from beam_api_pipeline.outputs.files import LocalOutput
from beam_api_pipeline.run.factory import PipelineFactory
from sample_api import Dataset, SampleApi
from tests.runners.runs import run_pipeline
from tests.runners.slow_output import SlowLocalOutput
from tests.support import items_config, prism_location, t


class Watcher(threading.Thread):
    """Samples (stored watermark, finished files) every 20 ms while a run goes on."""

    def __init__(self, database, out):
        super().__init__(daemon=True)
        self._database, self._out = database, out
        self.samples: list[tuple[str | None, int]] = []
        self.done = threading.Event()

    def watermark(self) -> str | None:
        if not self._database.exists():
            return None
        with sqlite3.connect(self._database) as connection:
            try:
                row = connection.execute("SELECT watermark FROM watermarks").fetchone()
            except sqlite3.OperationalError:  # the table is not there yet
                return None
        return row[0] if row else None

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((self.watermark(), len(list(self._out.glob("*.jsonl")))))
            time.sleep(0.02)


def test_the_watermark_moves_only_after_every_file_of_a_slow_sink_is_written(tmp_path):
    PipelineFactory.register_output("local", SlowLocalOutput)
    try:
        with SampleApi(Dataset(days=10, records_per_day=100)) as api:
            # 4 windows of 100 records, 50 a page (each page's rows wait half a second), 30 rows a file
            pages = {"pagination": {"page_size": 50}, "endpoints": {"items": {"primary_key": None}}}
            config = items_config(api.url, tmp_path, api_config=pages)
            watcher = Watcher(tmp_path / "state" / "control.db", tmp_path / "out")
            watcher.start()
            prism = ["--runner=PrismRunner", f"--prism_location={prism_location()}"]
            outcome = run_pipeline(config, tmp_path, "--end_time", "2024-01-06", *prism)
            watcher.done.set()
            watcher.join()
    finally:
        PipelineFactory.register_output("local", LocalOutput)

    assert outcome.exit_code == 0 and outcome.watermarks == {"items": t("2024-01-06")}
    files = len(list((tmp_path / "out").glob("*.jsonl")))
    assert files == outcome.report["counters"]["files_written"] > 1
    first_with_watermark = next(i for i, (watermark, _) in enumerate(watcher.samples) if watermark)
    assert watcher.samples[first_with_watermark][1] == files  # every file was there when the watermark moved
    assert first_with_watermark > 0 and watcher.samples[0] == (None, 0)  # the watcher saw the run from before
