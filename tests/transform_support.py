"""Helpers for tests/transforms (one transform or DoFn in a TestPipeline): the pipeline on the in-memory runner,
configs, the sample API's records as plain data, and the counters a pipeline's run counted."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.runners import SafeFnApiRunner
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask
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
    """A TestPipeline on the project's in-memory FnApiRunner (the local runner), with `options`."""
    return TestPipeline(runner=SafeFnApiRunner(), options=beam.options.pipeline_options.PipelineOptions(list(options)))


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


def ids(batches: Iterable[list[dict[str, Any]]]) -> list[int]:
    """The `id` of every row of `batches`."""
    return [row["id"] for batch in batches for row in batch]
