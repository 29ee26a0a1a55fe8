"""ReadFromApi: a Create of window tasks feeding the splittable DoFn that walks each window's pages."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline import metrics
from beam_api_pipeline.config import PipelineConfig, resolve_config
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.http.build import build_client
from beam_api_pipeline.run_plan import DONE, FAILED, PARTIAL, TRUNCATED, WindowResult, WindowTask
from beam_api_pipeline.transforms.page_walk import PageStep, PageWalkProvider

logger = logging.getLogger(__name__)

RESULTS = "window_results"
_PAGE_WALK = beam.DoFn.RestrictionParam(PageWalkProvider())


class _FetchWindowFn(beam.DoFn):
    """Walks one window's pages, yielding `(task, record)` as each page arrives and one WindowResult."""

    def __init__(self, config: PipelineConfig, extractor_class: type[BaseExtractor]):
        self._config = config
        self._extractor_class = extractor_class

    def setup(self) -> None:
        resolved = resolve_config(self._config)
        self._client = build_client(resolved)
        self._extractors = {name: self._extractor_class(resolved, name) for name in resolved.api_config.endpoints}
        self._max_pages = resolved.api_config.pagination.max_pages

    def teardown(self) -> None:
        self._client.close()

    def process(self, task: WindowTask, tracker=_PAGE_WALK) -> Iterator[object]:
        extractor = self._extractors[task.endpoint]
        position = tracker.current_restriction().start or extractor.pagination.first_position()
        pages = records = 0
        retries = [0]

        def result(status: str, error: BaseException | None = None) -> pvalue.TaggedOutput:
            message = self._client.redact(str(error)) if error else None
            error_type = type(error).__name__ if error else None
            return pvalue.TaggedOutput(
                RESULTS, WindowResult(task, status, pages, records, retries[0], message, error_type)
            )

        def count_retry(_error: BaseException, _wait: float) -> None:
            retries[0] += 1

        while True:
            if position.index >= self._max_pages:
                if tracker.try_claim(PageStep(position, None)):
                    metrics.MAX_PAGES_REACHED.inc()
                    logger.warning("%s %s: max_pages (%d) reached", task.endpoint, task.window.label(), self._max_pages)
                    yield result(TRUNCATED, RuntimeError(f"max_pages ({self._max_pages}) reached before the last page"))
                else:
                    yield result(PARTIAL)
                return
            try:
                page = extractor.fetch_page(self._client, task.window, position, on_retry=count_retry)
                next_position = extractor.pagination.next_position(position, page)
            except Exception as error:
                if tracker.try_claim(PageStep(position, None)):
                    metrics.WINDOWS_FAILED.inc()
                    logger.warning(
                        "%s %s failed: %s",
                        task.endpoint,
                        task.window.label(),
                        self._client.redact(str(error)),
                    )
                    yield result(FAILED, error)
                else:
                    yield result(PARTIAL)
                return
            if not tracker.try_claim(PageStep(position, next_position)):
                yield result(PARTIAL)
                return
            pages += 1
            metrics.PAGES.inc()
            for record in extractor.records(page):
                records += 1
                yield task, record
            metrics.RECORDS_FETCHED.inc(len(page.records))
            if next_position is None:
                metrics.WINDOWS_SUCCEEDED.inc()
                metrics.RECORDS_PER_WINDOW.update(records)
                yield result(DONE)
                return
            position = next_position


class ReadFromApi(beam.PTransform):
    """Window tasks in, `(task, record)` pairs out (main output) plus WindowResults (`RESULTS`)."""

    def __init__(self, config: PipelineConfig, extractor_class: type[BaseExtractor], tasks: list[WindowTask]):
        super().__init__()
        self._config = config
        self._extractor_class = extractor_class
        self._tasks = tasks

    def expand(self, pbegin: pvalue.PBegin) -> pvalue.DoOutputsTuple:
        return (
            pbegin
            | "CreateWindows" >> beam.Create(self._tasks, reshuffle=True)
            | "FetchWindows"
            >> beam.ParDo(_FetchWindowFn(self._config, self._extractor_class)).with_outputs(RESULTS, main="records")
        )
