"""BaseExtractor: window → pages → records, for one endpoint of a pipeline."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from beam_api_pipeline.client.api_client import ApiClient, ApiRequest, ApiResponse
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.auth import url_origin
from beam_api_pipeline.core import jsoncodec
from beam_api_pipeline.core.errors import ApiError, PaginationError, RecordsPathError, RetryableApiError
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.redaction import redact_url
from beam_api_pipeline.core.timeformat import format_bound, parse_timestamp
from beam_api_pipeline.core.window_bounds import is_template, render, sent_bound
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.pagination import Page, PagePosition, PaginationStrategy, create_strategy
from beam_api_pipeline.pagination.base import is_past_end, past_end_page
from beam_api_pipeline.plan.parents import ParentRef, for_parent

_ABSENT = object()
#: How much of an error an answer reports is shown in the message of its failed page.
_ERROR_SHOWN = 200
#: How many times an offset or page-number walk reads its window again when the records moved under it.
MAX_REREADS = 2


class BaseExtractor:
    """Builds each page's request, reads records out of each answer, and turns items into rows.

    Subclasses override `build_request`, `read_page` or `_transform_item` for APIs that need it; they never
    deal with Beam, retries or authentication. Whatever `build_request` returns, `fetch_page` sends nothing
    to a host other than `base_url`'s, and stops a walk whose cursor or next URL repeats an earlier page's.
    """

    def __init__(self, config: PipelineConfig, endpoint: str):
        self.config = config
        self.api = config.api_config
        self.endpoint_name = endpoint
        self.endpoint = self.api.endpoints[endpoint]
        self.pagination: PaginationStrategy = create_strategy(self.api.pagination_for(endpoint))
        self.parent_columns: dict[str, Any] = {}

    def for_parent(self, parent: ParentRef) -> BaseExtractor:
        """This extractor for the child task of one parent record: `{parent.<field>}` filled in (a ValueError
        names a field the parent lacks) and the `include_from_parent` columns added to every row."""
        child = copy.copy(self)
        child.endpoint = for_parent(self.endpoint, parent)
        child.parent_columns = parent.columns(self.endpoint.include_from_parent)
        return child

    @property
    def url(self) -> str:
        """The endpoint's URL."""
        return self.api.base_url.rstrip("/") + "/" + self.endpoint.path.lstrip("/")

    def window_params(self, window: Window) -> dict[str, Any]:
        """The window bounds as the API wants them (`watermark_field`, `window_end_field`), written in
        `time_format`: the start one step of it earlier with `start_inclusive: false`, the end one step earlier
        with `end_inclusive: true` (`window_bounds.sent_bound`)."""
        watermark = self.api.watermark
        if not watermark.enabled or watermark.filter == "client" or self.endpoint.parent is not None:
            return {}  # no time filter: read newest first and stopped (`next_position`); a child: all of it
        params: dict[str, Any] = {}
        for name, bound in ((watermark.watermark_field, "window_start"), (watermark.window_end_field, "window_end")):
            if name:
                moment = sent_bound(window, bound, watermark.time_format, watermark)
                params[name] = format_bound(moment, watermark.time_format)
        return params

    @classmethod
    def request_problems(cls, config: PipelineConfig) -> list[str]:
        """What in `config` this extractor's requests cannot carry out, one line `<key path>: <message>` each: an
        endpoint that sends no window bound (unless the extractor writes its own `window_params`)."""
        if cls.window_params is not BaseExtractor.window_params:
            return []
        return [
            f"api_config.endpoints.{name}: sends no window bounds: set watermark.watermark_field (and "
            "window_end_field), put {window_start} and {window_end} in a params value, or set watermark.filter: "
            "client for an API without a time filter"
            for name in config.api_config.unfiltered_endpoints()
        ]

    def filter_params(self, window: Window) -> dict[str, Any]:
        """The query parameters that carry `window`'s bounds, as sent: `window_params` and the `params` values
        that are window templates (named in a failure when the API did not apply them)."""
        templated = {name: value for name, value in self.endpoint.params.items() if is_template(value)}
        return {**self.window_templates(templated, window), **self.window_params(window)}

    def window_templates(self, value: Any, window: Window) -> Any:
        """`value` (params, body or variables) with its window templates written for `window`
        (`window_bounds.render`); a child endpoint's values as they are."""
        if not self.api.watermark.enabled or self.endpoint.parent is not None:
            return value
        return render(value, window, self.api.watermark)

    def page_url(self, position: PagePosition) -> str:
        """The URL of the page at `position`: the endpoint's, or the token's for strategies that follow URLs."""
        if self.pagination.follows_urls and position.token is not None:
            return position.token
        return self.url

    def build_request(self, window: Window, position: PagePosition) -> ApiRequest:
        """The request for the page at `position` of `window`.

        When the page's URL comes from the API (a next URL), the parameters it already has are not added again.
        """
        url = self.page_url(position)
        params = {
            **self.window_templates(self.endpoint.params, window),
            **self.window_params(window),
            **self.pagination.request_params(position),
        }
        in_url = {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
        params = {name: value for name, value in params.items() if name not in in_url}
        return ApiRequest(self.endpoint.method, url, params, self.window_templates(self.endpoint.body, window))

    def read_page(self, response: ApiResponse) -> Page:
        """The records of one answer, found at the endpoint's `records_path` (`null` there: no records).

        An answer without `records_path` at all (an error object sent with status 200) is an error, not an
        empty page: taking it for one would skip the rest of the window without a trace. So is an answer with
        no body (`null`, a 204) and one whose records are empty or `null` beside an `error` or `errors`
        entry (a query that timed out): those raise RetryableApiError, and the page is asked for again
        (`retry`) before its window fails.
        """
        self._check_answer_has_records(response)
        records = get_path(response.body, self.endpoint.records_path, default=_ABSENT)
        if records is _ABSENT and response.body is not None:
            keys = ", ".join(map(str, response.body)) if isinstance(response.body, dict) else "none"
            raise RecordsPathError(
                f"{self.endpoint_name}: the answer of {redact_url(response.url)} has no "
                f"{self.endpoint.records_path!r} (records_path); its keys: {keys or 'none'}"
            )
        if records is None or records is _ABSENT:
            records = []
        if not isinstance(records, list):
            where = self.endpoint.records_path or "the response body"
            raise RecordsPathError(f"records_path {where!r} is a {type(records).__name__}, not a list")
        return Page(response.body, response.headers, records, response.url)

    def _check_answer_has_records(self, response: ApiResponse) -> None:
        """Raise RetryableApiError when `response` holds no page of records: no body, or no records beside an
        error the API reports (`error`, `errors`)."""
        where = f"{self.endpoint_name}: the answer of {redact_url(response.url)} (status {response.status})"
        if response.body is None:
            raise RetryableApiError(f"{where} has no body where a page of records was expected", response.status)
        if not isinstance(response.body, dict):
            return
        errors = {name: response.body[name] for name in ("error", "errors") if response.body.get(name)}
        records = get_path(response.body, self.endpoint.records_path, default=_ABSENT)
        if errors and records is not _ABSENT and not records:  # no records_path at all: read_page's error
            shown = jsoncodec.dumps(errors)[:_ERROR_SHOWN]
            raise RetryableApiError(f"{where} has no records and reports an error: {shown}", response.status)

    def fetch_page(self, client: ApiClient, window: Window, position: PagePosition, on_retry=None) -> Page:
        """Request and read one page, after the loop and host guards; an answer `read_page` finds no page in is
        asked for again as the retry policy allows."""
        self._check_not_repeated(window, position)
        request = self.build_request(window, position)
        self._check_host(window, position, request.url)
        try:
            return client.send(request, on_retry=on_retry, read=self.read_page)
        except ApiError as error:
            if self.pagination.is_probe(position) and is_past_end(error):
                return past_end_page(request.url)
            raise

    def next_position(self, window: Window, position: PagePosition, page: Page) -> PagePosition | None:
        """The position of the page after `page`, None when the walk of `window` ends there: at the API's last
        page or, with `watermark.filter: client`, at a page whose records are all older than the window.

        A walk that ends while the API says more records follow fails (PaginationError says why). One that
        fetched fewer records than the total its first page announced (a cursor walk: or its last page, when
        smaller), or (offsets, page numbers) whose last page announces another total, is not complete either:
        an offset or page-number walk, whose pages shift when records move, reads the window again up to
        MAX_REREADS times before it fails, when the endpoint has a `primary_key` (the records read twice are
        de-duplicated by it; without one they would be written twice, so the window fails at once and the next
        run reads it again).
        """
        if self.api.watermark.filter == "client" and self.endpoint.parent is None and self._precedes(window, page):
            return None
        ignored = self.pagination.ignored_paging(position, page)
        if ignored:
            raise PaginationError(f"{self._where(window, position)} {ignored}")
        following = self.pagination.next_position(position, page)
        if following is not None:
            return following
        more = self.pagination.says_more(page)
        if more:
            raise PaginationError(
                f"{self._where(window, position)}: the walk ended while {more}: the API says more records follow; "
                "check the pagination keys against the API's documentation"
            )
        problem = self._short_of_total(position, page)
        if problem is None:
            return None
        rereads = position.tally.rereads
        if self.pagination.shifts and self.endpoint.primary_key and rereads < MAX_REREADS:
            return self.pagination.reread(position)
        if rereads:
            problem += f"; the window was read {rereads + 1} times"
        raise PaginationError(f"{self._where(window, position)}: {problem}")

    def _short_of_total(self, position: PagePosition, page: Page) -> str | None:
        """Why a walk that ends at `page` did not fetch all the records its API announced, or None."""
        strategy = self.pagination
        tally = strategy.tally_after(position, page)
        if tally.announced is None:
            return None
        path = strategy.config.total_path
        last = strategy.total(page)
        if strategy.shifts and last is not None and last != tally.announced:
            return (
                f"the API announced {tally.announced} records (total_path {path!r}) on the window's first page and "
                f"{last} on its last: records moved while the window was read; sort by a stable key or use cursor "
                "pagination"
            )
        # A cursor walk is not shifted by records that move: one that left the window ahead of the cursor is not
        # owed (its new time puts it in a later window), so the last page's smaller total is the count owed.
        owed = tally.announced if strategy.shifts or last is None else min(tally.announced, last)
        if tally.fetched < owed:
            return (
                f"{tally.fetched} records fetched, fewer than the {tally.announced} the API announced "
                f"(total_path {path!r}) on the window's first page (page size served: {tally.size or 0}); use a "
                "smaller window_size if the API limits how far a walk goes"
            )
        return None

    def _precedes(self, window: Window, page: Page) -> bool:
        """Whether every record of `page` has a placement time before `window` requests (an unreadable one does
        not count as older)."""
        watermark = self.api.watermark
        field = watermark.placement_field()
        try:
            moments = [parse_timestamp(get_path(record, field), watermark.time_format) for record in page.records]
        except (ValueError, TypeError, OverflowError):
            return False
        return all(moment < window.fetch_start for moment in moments)

    def records(self, page: Page) -> Iterable[Any]:
        """The rows of a page, each item passed through `_transform_item` (the items themselves when an
        extractor keeps the default, which makes each item one row); a child task's rows with its parent
        columns."""
        if type(self)._transform_item is BaseExtractor._transform_item:
            rows: Iterable[Any] = page.records
        else:
            rows = (row for item in page.records for row in self._transform_item(item))
        columns = self.parent_columns
        if columns:
            return [{**row, **columns} if isinstance(row, dict) else row for row in rows]
        return rows

    def _transform_item(self, item: Any) -> Iterable[Any]:
        """Turn one item of a page into rows (one by default)."""
        yield item

    def where(self, window: Window, index: int) -> str:
        """Page `index` (0-based) of `window`, in messages: `items window 2024-01-02T00:00:00Z/... page 3`."""
        return f"{self.endpoint_name} window {window.label()} page {index + 1}"

    def _where(self, window: Window, position: PagePosition) -> str:
        return self.where(window, position.index)

    def _check_not_repeated(self, window: Window, position: PagePosition) -> None:
        earlier = position.repeated_page()
        if earlier is not None:
            name = self.pagination.token_name
            raise PaginationError(
                f"{self._where(window, position)}: the API gave the {name} of page {earlier} again; "
                "the walk is stopped as a loop"
            )

    def _check_host(self, window: Window, position: PagePosition, url: str) -> None:
        allowed, actual = url_origin(self.api.base_url), url_origin(url)
        if actual != allowed:
            raise PaginationError(
                f"{self._where(window, position)}: the URL {redact_url(url)} is on {actual}, not on "
                f"base_url's {allowed}; it is not followed, so that credentials are never sent to another host"
            )
