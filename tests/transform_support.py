"""Helpers for tests/transforms (one transform or DoFn in a TestPipeline): the pipeline on the in-memory runner,
configs, the sample API's records as plain data, and the counters a pipeline's run counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.beam_options import ViewOnceOptions
from beam_api_pipeline.core.runners import SafeFnApiRunner
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.fetch.read import RECORDS, RESULTS, ReadFromApi
from beam_api_pipeline.plan.run_plan import (
    RunPlan,
    WindowResult,
    WindowStatus,
    WindowTask,
    watermarks_after,
    window_outcomes,
    window_tasks,
)
from beam_api_pipeline.records.dead_letters import window_dead_letter
from beam_api_pipeline.records.transform import INVALID, TransformRecords
from sample_api import Dataset
from sample_api.faults import Faults
from tests.support import items_config, t

#: An address nothing listens on, for configs of transforms that never call the API.
NO_API = "http://127.0.0.1:1"


#: Two daily windows of the /items endpoint.
DAY_1 = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
DAY_2 = WindowTask("items", Window(t("2024-01-03"), t("2024-01-04")))


def record(record_id: int, updated_at: str, **fields: Any) -> dict[str, Any]:
    """An API record of /items."""
    return {"id": record_id, "updated_at": updated_at, **fields}


def pipeline(*options: str) -> TestPipeline:
    """A TestPipeline with `options`: on the runner a `--runner=` option names (Prism, say), else on the project's
    in-memory FnApiRunner (the local runner)."""
    named = any(option.startswith("--runner=") for option in options)
    runner = None if named else SafeFnApiRunner()
    return TestPipeline(runner=runner, options=ViewOnceOptions(list(options)))


def config(folder: Path, api_url: str = NO_API, **changes: Any) -> PipelineConfig:
    """`tests.support.items_config` as a PipelineConfig."""
    return PipelineConfig.model_validate(items_config(api_url, folder, **changes))


def counters(result) -> dict[str, int]:
    """Every counter of the project's namespace a finished pipeline `result` counted, by name."""
    found = result.metrics().query(MetricsFilter().with_namespace(metrics.NAMESPACE))["counters"]
    totals: dict[str, int] = {}
    for counter in found:
        name = counter.key.metric.name
        totals[name] = totals.get(name, 0) + (counter.committed or 0)
    return totals


def run(p: TestPipeline) -> dict[str, int]:
    """Runs `p` to its end (its `assert_that`s included); returns its counters."""
    result = p.run()
    result.wait_until_finish()
    return counters(result)


class Kept:
    """An `assert_that` matcher that keeps what a PCollection held (as JSON, in `path`) for the test to assert on
    after the run: `assert_that(pcoll, Kept(path))`, then `Kept(path).elements()`."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, actual: list) -> None:
        self.path.write_text(json.dumps(list(actual)))

    def elements(self) -> list:
        return json.loads(self.path.read_text())


def task(start: str, end: str, endpoint: str = "items") -> WindowTask:
    """The task of `endpoint`'s window [start, end) (ISO times, UTC)."""
    return WindowTask(endpoint, Window(t(start), t(end)))


def api_records(
    dataset: Dataset, faults: Faults, window: WindowTask, page_size: int = 10
) -> list[tuple[tuple, list[dict[str, Any]]]]:
    """The `(task, records)` pages the sample API (with `faults`) answers for `window`, as ReadFromApi yields them."""
    records = [faults.record_json(record) for record in dataset.window(window.window.start, window.window.end)]
    element = window.to_element()
    return [(element, records[first : first + page_size]) for first in range(0, len(records), page_size)]


def done(window: WindowTask, pages: int = 1, records: int = 0) -> tuple:
    """The WindowResult element of a window read completely."""
    return WindowResult(window, WindowStatus.DONE, pages, records, end_page=pages, window_pages=pages).to_element()


class Read:
    """ReadFromApi of `cfg`'s windows over [start, end) (ISO times), its records through TransformRecords (placed,
    de-duplicated by primary key, shaped), in a TestPipeline with `options`, run. Holds what a run would write
    per endpoint (`rows`), each part's WindowResult (`results`), the dead-letter rows of the windows that failed
    (`failures`), the records that could not be placed (`invalid`), the counters, and the watermarks a commit of
    these results would store (`watermarks`, by `run_plan.watermarks_after`, as CommitWatermark does)."""

    def __init__(self, folder: Path, cfg: PipelineConfig, start: str, end: str, *options: str):
        self.config = cfg
        tasks = window_tasks(cfg, t(start), t(end))
        self.plan = RunPlan("r1", cfg.pipeline_id, datetime.now(UTC), tasks)
        endpoints = list(cfg.api_config.endpoints)
        p = pipeline(*options)
        read = p | ReadFromApi(cfg, tasks)
        shaped = read[RECORDS] | TransformRecords(cfg, "r1")
        found = {f"rows:{e}": shaped["rows"][e] | f"Rows[{e}]" >> beam.FlatMap(_plain_rows) for e in endpoints}
        found["results"] = read[RESULTS]
        found["invalid"] = shaped[INVALID] | beam.MapTuple(lambda task_element, record, reason: [record, reason])
        named = [pcoll | f"Name[{name}]" >> beam.Map(lambda e, n=name: (n, e)) for name, pcoll in found.items()]
        kept = Kept(folder / "read.json")
        assert_that(named | "AllFound" >> beam.Flatten(), kept)  # one check for all: fewer stages to run
        self.counters = run(p)
        elements: dict[str, list] = {name: [] for name in found}
        for name, element in kept.elements():
            elements[name].append(element)
        self.rows = {endpoint: elements[f"rows:{endpoint}"] for endpoint in endpoints}
        self.results = [WindowResult.from_element(element) for element in elements["results"]]
        self.invalid = elements["invalid"]
        self.outcomes = window_outcomes(self.plan, self.results)
        self.watermarks = watermarks_after(self.plan, self.outcomes)

    def windows_done(self, endpoint: str = "items") -> tuple[int, int]:
        """(windows read completely, windows not) of `endpoint`, as the run record counts them."""
        complete = [outcome.complete for outcome in self.outcomes[endpoint]]
        return complete.count(True), complete.count(False)

    def records(self, endpoint: str = "items") -> int:
        """The records `endpoint`'s fetch parts read (the run report's `records`)."""
        return sum(r.records for r in self.results if r.task.endpoint == endpoint)

    def ids(self, endpoint: str = "items", key: str = "id") -> list[int]:
        """The `key` of every row of `endpoint`, sorted (a duplicate shows twice)."""
        return sorted(row[key] for row in self.rows[endpoint])

    @property
    def failures(self) -> list[dict[str, Any]]:
        """The dead-letter rows of the window parts that failed or were truncated, by window and first page."""
        failed = sorted(
            (r for r in self.results if r.status.fails_window), key=lambda r: (r.task.window.start, r.first_page)
        )
        return [window_dead_letter(self.config.pipeline_id, "r1", r) for r in failed]

    def window_failures(self) -> list[tuple[str, str, str]]:
        """(window start, status, error) of each failed part, sorted."""
        return sorted((row["window_start"], row["status"], row["error"]) for row in self.failures)


def _plain_rows(batch: Any) -> list[Any]:
    """The rows of a batch: `(task, rows)` for an endpoint with quality checks, else the rows."""
    return batch[1] if isinstance(batch, tuple) else batch
