"""ApiDoFn: the base of the DoFns that call the API. It carries only the config; `setup()` builds the worker's
client, held to this process's share of the job's limits, and one extractor per endpoint, after settling the
process's garbage collector for a stream of records (`heap`), and the validators of its conditional requests
(`conditional_pages`)."""

from __future__ import annotations

import dataclasses

import apache_beam as beam

from beam_api_pipeline.client.build import budget_share, build_client, client_limits
from beam_api_pipeline.config import PipelineConfig, resolve_config
from beam_api_pipeline.core.heap import settle_heap
from beam_api_pipeline.core.runner_profile import RunnerProfile
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.fetch.conditional_pages import ConditionalPages
from beam_api_pipeline.fetch.range_rules import RangePaging, range_paging
from beam_api_pipeline.pagination import Page
from beam_api_pipeline.plan.run_plan import WindowTask


class ApiDoFn(beam.DoFn):
    """Builds the worker's client (its share of the job's limits) and extractors in `setup()`; secrets are
    resolved there, on the worker, never when the graph is built."""

    def __init__(self, config: PipelineConfig, extractor_class: type[BaseExtractor], profile: RunnerProfile):
        self._config = config
        self._extractor_class = extractor_class
        self._profile = profile

    def setup(self) -> None:
        settle_heap()
        resolved = resolve_config(self._config)
        api = resolved.api_config
        share = budget_share(resolved, self._profile.processes_on_worker())
        self._limits = client_limits(resolved, share)
        self._max_concurrent = share.max_concurrent or 1
        self._client = build_client(resolved, self._limits)
        self._extractors = {name: self._extractor_class(resolved, name) for name in api.endpoints}
        self._paging = {name: range_paging(api, name) for name in api.endpoints}
        self._max_pages = {name: api.pagination_for(name).max_pages for name in api.endpoints}
        self._batch_size = api.batch_size
        self._conditional = ConditionalPages(resolved, self._client)

    def teardown(self) -> None:
        self._client.close()

    def _fetch_range_page(self, task: WindowTask, paging: RangePaging, index: int, on_retry=None) -> Page:
        """Page `index` of a window fetched as a range: the extractor's request with the range's paging."""
        extractor = self._extractors[task.endpoint]
        request = extractor.build_request(task.window, extractor.pagination.first_position())
        request = dataclasses.replace(request, params={**request.params, **paging.params(index)})
        return self._client.send(request, on_retry=on_retry, read=extractor.read_page)
