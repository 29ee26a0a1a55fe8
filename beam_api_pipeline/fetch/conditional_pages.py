"""ConditionalPages: a fetch DoFn's conditional requests (`client.conditional`). The first page of a walk whose
request has validators in the control store (read once, in `setup`) is asked for with them, and a 304 ends the
walk with no records; a walk its first answer completed keeps that answer's validators for the commit to save.
The control store is read, never written, here: what this run sees is saved only with its watermark."""

from __future__ import annotations

import logging

from beam_api_pipeline.client.api_client import ApiClient, NotModified
from beam_api_pipeline.client.conditional import (
    ConditionalClient,
    Validators,
    conditional_endpoints,
    request_key,
    validators_of,
)
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.pagination import Page, PagePosition
from beam_api_pipeline.plan.run_plan import WindowTask

logger = logging.getLogger(__name__)

#: A walk's validators as a WindowResult carries them: (request key, ETag, Last-Modified).
KeptValidators = tuple[tuple[str, str | None, str | None], ...]


class ConditionalPages:
    """The validators a fetch DoFn's process sends (the control store's, for its conditional endpoints)."""

    def __init__(self, config: PipelineConfig, client: ApiClient):
        self._client = client
        self._endpoints = conditional_endpoints(config)
        self._known: dict[tuple[str, str], Validators] = {}
        if self._endpoints:
            with opened_store(config.watermark_store) as store:
                self._known = store.get_validators(config.pipeline_id)

    def fetch_first(
        self, extractor: BaseExtractor, task: WindowTask, position: PagePosition, on_retry=None
    ) -> Page | None:
        """The page at `position` (`extractor.fetch_page`); None when it is the walk's first and the API answered
        its conditional request with 304 Not Modified."""
        known = self._validators_for(extractor, task, position)
        if known is None:
            return extractor.fetch_page(self._client, task.window, position, on_retry=on_retry)
        try:
            return extractor.fetch_page(ConditionalClient(self._client, known), task.window, position, on_retry)
        except NotModified:
            return None

    def kept(self, extractor: BaseExtractor, task: WindowTask, page: Page) -> KeptValidators:
        """The validators to save of a walk that `page`, its first, completed: none when the endpoint sends no
        conditional requests or the answer carries no validator."""
        if task.endpoint not in self._endpoints:
            return ()
        found = validators_of(page.headers or {})
        if found is None:
            return ()
        key = self._key(extractor, task, extractor.pagination.first_position())
        return ((key, found.etag, found.last_modified),)

    def _validators_for(self, extractor: BaseExtractor, task: WindowTask, position: PagePosition) -> Validators | None:
        if task.endpoint not in self._endpoints or position.index != 0 or not self._known:
            return None
        return self._known.get((task.endpoint, self._key(extractor, task, position)))

    def _key(self, extractor: BaseExtractor, task: WindowTask, position: PagePosition) -> str:
        """The request key of the page at `position`: a child task's without its window (its request and its
        records do not depend on it), another's with it (which records it keeps does)."""
        window = None if task.parent is not None else _window_label(task)
        return request_key(extractor.build_request(task.window, position), self._client, window)


def _window_label(task: WindowTask) -> str:
    """The window as its records are kept (`label`) and as it is requested (its overlap, when it has one)."""
    overlap = task.window.overlap.total_seconds()
    return task.window.label() + (f" overlap {overlap:g}s" if overlap else "")
