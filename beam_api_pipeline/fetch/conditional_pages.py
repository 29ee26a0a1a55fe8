"""ConditionalPages: a fetch DoFn's conditional requests (`client.conditional`). The first page of a walk whose
request has validators in the control store (read once per DoFn instance, at its first walk) is asked for with
them, and a 304 ends the walk with no records; a walk its first answer completed keeps that answer's validators
for the commit to save. The control store is read, never written, here: what this run sees is saved only with
its watermark.

A request is keyed without its window: a 304 to the same request in a later window means that the API has no
record the earlier answer did not have. So the validators of a window's answer are kept only when none of its
records belongs to a later window (none placed at or after the window's end, none whose time is unreadable):
those records would be owed to the later window, which a 304 would skip. A `filter: client` endpoint polled
while nothing changes, and a child list re-read for a parent that changed, are the requests that repeat."""

from __future__ import annotations

import threading

from beam_api_pipeline.client.api_client import ApiClient, NotModified
from beam_api_pipeline.client.conditional import ConditionalClient, conditional_endpoints, request_key
from beam_api_pipeline.client.validators import KeptValidators, Validators, validators_of
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.pagination import Page, PagePosition
from beam_api_pipeline.plan.run_plan import WindowTask


class ConditionalPages:
    """The validators a fetch DoFn's process sends (the control store's, for its conditional endpoints)."""

    def __init__(self, config: PipelineConfig, client: ApiClient):
        """`config` resolved (`resolve_config`)."""
        self._client = client
        self._endpoints = conditional_endpoints(config)
        self._watermark = config.api_config.watermark
        self._store = config.watermark_store
        self._pipeline_id = config.pipeline_id
        self._known: dict[tuple[str, str], Validators] | None = None
        self._lock = threading.Lock()  # child tasks are walked on a pool's threads

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
        conditional requests, the answer carries no validator, or it holds a record of a later window."""
        if task.endpoint not in self._endpoints or (task.parent is None and self._reaches_past(task, page)):
            return ()
        found = validators_of(page.headers or {})
        if found is None:
            return ()
        key = _key(extractor, task, extractor.pagination.first_position())
        return ((key, found.etag, found.last_modified),)

    def _reaches_past(self, task: WindowTask, page: Page) -> bool:
        """Whether a record of `page` is placed at or after the end of `task`'s window, or cannot be placed
        (without a watermark, records are not placed: none is)."""
        watermark = self._watermark
        if not watermark.enabled:
            return False
        field = watermark.placement_field()
        try:
            moments = [parse_timestamp(get_path(record, field), watermark.time_format) for record in page.records]
        except (ValueError, TypeError, OverflowError):
            return True
        return any(moment >= task.window.end for moment in moments)

    def _validators_for(self, extractor: BaseExtractor, task: WindowTask, position: PagePosition) -> Validators | None:
        if task.endpoint not in self._endpoints or position.index != 0:
            return None
        known = self._stored()
        return known.get((task.endpoint, _key(extractor, task, position))) if known else None

    def _stored(self) -> dict[tuple[str, str], Validators]:
        """The control store's validators of the pipeline, read at the first request that may use them."""
        with self._lock:
            if self._known is None:
                with opened_store(self._store) as store:
                    self._known = store.get_validators(self._pipeline_id)
            return self._known


def _key(extractor: BaseExtractor, task: WindowTask, position: PagePosition) -> str:
    """The request key of the page at `position` of `task`'s walk."""
    return request_key(extractor.build_request(task.window, position))
