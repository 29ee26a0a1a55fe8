"""Streaming runs on Prism, for tests: a live sample API that gains records every second, a watcher that checks
the committed watermark against the written files while a run goes, and the run itself through the command line
(`streaming_run`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import PipelineConfig, load_pipeline_config
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.core.windowing import format_utc
from sample_api import SampleApi
from sample_api.data import Dataset
from tests.support import items_config, merged, prism_location, read_jsonl, stored_watermark, write_yaml

#: Records the live API gains each second.
RECORDS_PER_SECOND = 3
POLL_SECONDS = 2


@dataclass
class LiveApi:
    """The sample API with no records at first and RECORDS_PER_SECOND new ones every second until `stop`, each
    stamped (`updated_at`) with the moment it is added: the moment the API first serves it."""

    api: SampleApi
    _stop: threading.Event = field(default_factory=threading.Event)

    def feed(self) -> None:
        while not self._stop.wait(1.0):
            self.api.dataset.add_records(RECORDS_PER_SECOND)

    def stamped(self, record_id: int) -> datetime:
        record = self.api.dataset.record(record_id)
        assert record is not None
        return record.updated_at

    def ids_before(self, moment: datetime) -> list[int]:
        """The ids of the records stamped before `moment`, in id order."""
        return sorted(r.id for r in self.api.dataset.window(None, moment))

    def stop(self) -> None:
        self._stop.set()


#: Reads the ids a sink holds (its finished files, a table).
Sink = Callable[[], Collection[int]]


def files_of(folder: Path) -> Sink:
    """The ids in the finished `*.jsonl` files under `folder`."""
    return lambda: {row["id"] for row in read_jsonl(folder, recursive=True)} if folder.exists() else set()


class WatermarkWatcher:
    """Reads the committed watermark every 0.2 s while a run goes and, each time it moved, each of `sinks`: every
    record stamped before the watermark must be in each by then (`lapses` lists those that were not)."""

    def __init__(self, config, live: LiveApi, sinks: list[Sink]):
        self._config = config
        self._live = live
        self._sinks = sinks
        self._stop = threading.Event()
        self.seen: list[datetime] = []
        self.lapses: list[str] = []
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> WatermarkWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            watermark = stored_watermark(self._config)
            if watermark is None or (self.seen and watermark == self.seen[-1]):
                continue
            self.seen.append(watermark)
            for index, sink in enumerate(self._sinks):
                try:
                    held = set(sink())
                except Exception as error:  # a watcher that cannot read a sink must fail the test, not go quiet
                    self.lapses.append(f"sink {index} unreadable: {error}")
                    continue
                missing = sorted(set(self._live.ids_before(watermark)) - held)
                if missing:
                    self.lapses.append(
                        f"watermark {format_utc(watermark)} passed ids not in sink {index}: {missing[:10]}"
                    )


@dataclass(frozen=True)
class StreamingRun:
    """What a streaming run of `config` until `end` gave through the command line: its exit code, report
    (`--report_json`), the watermarks the watcher saw it commit and what it found wrong (`lapses`)."""

    config: PipelineConfig
    end: datetime
    code: int
    report: dict[str, Any]
    watermarks: list[datetime]
    lapses: list[str]

    def watermark(self) -> datetime | None:
        """The watermark stored now."""
        return stored_watermark(self.config)

    def poll_times(self) -> list[datetime]:
        """The ticks of the run's schedule: from its start every poll interval, before its end."""
        first = parse_timestamp(self.report["run"]["start_time"])
        interval = timedelta(seconds=POLL_SECONDS)
        return [
            first + k * interval
            for k in range(int((self.end - first) / interval) + 1)
            if first + k * interval < self.end
        ]


def streaming_config(api_url: str, folder: Path, **changes: Any) -> dict[str, Any]:
    """`items_config` polled every POLL_SECONDS, from a moment ago, with the row metadata (`_extracted_at`)."""
    start = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    base = items_config(
        api_url,
        folder,
        streaming={"enabled": True, "poll_interval": f"{POLL_SECONDS}s"},
        api_config={
            "watermark": {"initial_watermark": start},
            "transform": {"add_metadata": True},
            "retry": {"max_attempts": 2, "base_delay": 0.01, "max_delay": 0.02, "max_time": 1},
        },
    )
    return merged(base, changes)


@contextmanager
def live_sample_api() -> Iterator[LiveApi]:
    """A LiveApi, fed until the block ends."""
    with SampleApi(Dataset(days=0)) as api:
        live = LiveApi(api)
        feeder = threading.Thread(target=live.feed, daemon=True)
        feeder.start()
        try:
            yield live
        finally:
            live.stop()
            feeder.join()


def streaming_run(
    config: dict[str, Any], folder: Path, live: LiveApi, seconds: float, *args: str, sinks: list[Sink] | None = None
) -> StreamingRun:
    """Runs the pipeline `config` (a dict, written to `folder`) on Prism until `seconds` from now, through the
    command line with `args`, watching its watermark against `sinks` (default: the local output's files)."""
    path = write_yaml(folder / "pipeline.yaml", config)
    loaded = load_pipeline_config(path)
    report_path = folder / "report.json"
    report_path.unlink(missing_ok=True)
    end = datetime.now(UTC) + timedelta(seconds=seconds)
    options = ["--runner=PrismRunner", f"--prism_location={prism_location()}"]
    command = ["run", "--config", str(path), "--end_time", format_utc(end), "--no_progress", *args, *options]
    sinks = sinks if sinks is not None else [files_of(Path(config["output"][0]["config"]["path"]))]
    with WatermarkWatcher(loaded, live, sinks) as watcher:
        code = main([*command, "--report_json", str(report_path)])
    report = json.loads(report_path.read_text())
    return StreamingRun(loaded, end, code, report, watcher.seen, watcher.lapses)
