"""BaseExtractor: window → pages → records, for one endpoint of a pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.errors import PaginationError
from beam_api_pipeline.http.client import ApiClient, ApiRequest, ApiResponse
from beam_api_pipeline.pagination import Page, PagePosition, PaginationStrategy, create_strategy
from beam_api_pipeline.paths import get_path
from beam_api_pipeline.timeformat import format_bound, inclusive_end
from beam_api_pipeline.windowing import Window


class BaseExtractor:
    """Builds each page's request, reads records out of each answer, and turns items into rows.

    Subclasses override `build_request`, `read_page` or `_transform_item` for APIs that need it; they never
    deal with Beam, retries or authentication.
    """

    def __init__(self, config: PipelineConfig, endpoint: str):
        self.config = config
        self.api = config.api_config
        self.endpoint_name = endpoint
        self.endpoint = self.api.endpoints[endpoint]
        self.pagination: PaginationStrategy = create_strategy(self.api.pagination_for(endpoint))

    @property
    def url(self) -> str:
        """The endpoint's URL."""
        return self.api.base_url.rstrip("/") + "/" + self.endpoint.path.lstrip("/")

    def window_params(self, window: Window) -> dict[str, Any]:
        """The window bounds as the API wants them (`watermark_field`, `window_end_field`)."""
        watermark = self.api.watermark
        if not watermark.enabled:
            return {}
        params: dict[str, Any] = {}
        if watermark.watermark_field:
            params[watermark.watermark_field] = format_bound(window.fetch_start, watermark.time_format)
        if watermark.window_end_field:
            end = inclusive_end(window.end, watermark.time_format) if watermark.end_inclusive else window.end
            params[watermark.window_end_field] = format_bound(end, watermark.time_format)
        return params

    def build_request(self, window: Window, position: PagePosition) -> ApiRequest:
        """The request for the page at `position` of `window`."""
        params = {
            **self.endpoint.params,
            **self.window_params(window),
            **self.pagination.request_params(position),
        }
        return ApiRequest(self.endpoint.method, self.url, params, self.endpoint.body)

    def read_page(self, response: ApiResponse) -> Page:
        """The records of one answer, found at the endpoint's `records_path`."""
        records = get_path(response.body, self.endpoint.records_path)
        if records is None:
            records = []
        if not isinstance(records, list):
            where = self.endpoint.records_path or "the response body"
            raise PaginationError(f"records_path {where!r} is a {type(records).__name__}, not a list")
        return Page(response.body, response.headers, records)

    def fetch_page(self, client: ApiClient, window: Window, position: PagePosition, on_retry=None) -> Page:
        """Request and read one page."""
        return self.read_page(client.send(self.build_request(window, position), on_retry=on_retry))

    def records(self, page: Page) -> Iterable[Any]:
        """The rows of a page, each item passed through `_transform_item`."""
        for item in page.records:
            yield from self._transform_item(item)

    def _transform_item(self, item: Any) -> Iterable[Any]:
        """Turn one item of a page into rows (one by default)."""
        yield item
