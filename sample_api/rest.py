"""The generic REST routes, one per pagination style, all over the same data set (`since` inclusive, `until`
exclusive):

- `GET /items?page=&per_page=&order=` page numbers, with `total`, oldest first (`order=desc`: newest first);
- `GET /events?cursor=&limit=` an opaque cursor at `meta.next_cursor`, with `has_more`; or, Stripe's way,
  `starting_after=<id of the last record seen>`;
- `GET /records?offset=&limit=` offset and limit, with `total`;
- `GET /feed?limit=&page_token=` the next page's absolute URL at `links.next`.

The window is read as `windowed` says (`Faults.exclusive_since`, `bound_precision`, `text_filter`).
Records are written by `Faults.record_json` (timestamp style, stripped fields); page-number and offset pages
repeat the end of the page before when `Faults.boundary_duplicates` is set. Pages are capped at
`Faults.page_cap`, totals at `Faults.capped_total`; `Faults.ignore_paging` serves the first page for every
page number or offset, `Faults.past_end_404` answers a page past the end with 404; `Faults.empty_pages` puts
an empty page that says more before each cursor or next-URL page (its cursor is the page's own, marked `HOLD`);
`Faults.moving_records` move once the first page of their window is served (keyset pages do not shift: the
cursor names a record).
"""

from __future__ import annotations

import bisect
import re
from datetime import datetime

from sample_api.data import Dataset, Record, record_key
from sample_api.faults import Faults
from sample_api.protocol import (
    DEFAULT_PAGE_SIZE,
    BadRequest,
    Reply,
    Request,
    decode_cursor,
    encode_cursor,
    instant_param,
    link_to,
    positive_int,
    size_param,
)


def past_end() -> Reply:
    """The answer of a page past the end with `Faults.past_end_404` (Django REST Framework's words)."""
    return Reply(404, {"detail": "Invalid page."})


#: The mark of a cursor handed out by an empty page (`Faults.empty_pages`): the page after it is the cursor's own.
HOLD = "hold."


def held_cursor(text: str | None, faults: Faults) -> tuple[str | None, bool]:
    """The cursor to read from `text`, and whether this answer is an empty page that says more (with
    `faults.empty_pages`, every page after the first is preceded by one)."""
    if text is not None and text.startswith(HOLD):
        return text.removeprefix(HOLD), False
    return text, faults.empty_pages and text is not None


def window_of(request: Request, faults: Faults) -> tuple[datetime | None, datetime | None]:
    """The `since` and `until` query parameters (neither with `faults.ignore_window_filter`)."""
    if faults.ignore_window_filter:
        return None, None
    return instant_param(request, "since"), instant_param(request, "until")


#: `Faults.text_filter`'s one expression: `updated_at >= "A" && updated_at < "B"` (either part may be left out).
_FILTER_PART = re.compile(r'\s*updated_at\s*(>=|<)\s*"([^"]*)"\s*')
#: The format in which `Faults.text_filter` compares times, as text.
TEXT_FILTER_FORMAT = "%Y-%m-%d %H:%M:%S.{ms}Z"


def windowed(dataset: Dataset, faults: Faults, request: Request) -> list[Record]:
    """The records of the request's window, as `faults` says the API reads it: `since` inclusive (exclusive with
    `exclusive_since`), `until` exclusive (inclusive with `inclusive_until`), each cut to `bound_precision` first;
    with `text_filter`, the window is the `filter` expression instead, compared as text."""
    if faults.text_filter:
        return text_filtered(dataset.window(), request.param("filter") or "")
    since, until = (faults.cut_bound(bound) for bound in window_of(request, faults))
    if faults.inclusive_until and until is not None:
        records = [record for record in dataset.window(since) if record.updated_at <= until]
    else:
        records = dataset.window(since, until)
    if faults.exclusive_since and since is not None:
        records = [record for record in records if record.updated_at > since]
    return records


def as_text(moment: datetime) -> str:
    """`moment` as `Faults.text_filter` compares it: `2024-01-05 00:00:00.000Z`."""
    return moment.strftime(TEXT_FILTER_FORMAT.format(ms=f"{moment.microsecond // 1000:03d}"))


def text_filtered(records: list[Record], expression: str) -> list[Record]:
    """The records whose `updated_at`, written `as_text`, compares as text as each part of `expression` says."""
    parts = expression.split("&&") if expression.strip() else []
    matches = [_FILTER_PART.fullmatch(part) for part in parts]
    if not all(matches):
        raise BadRequest("filter", f'expected updated_at >= "..." && updated_at < "...", got {expression!r}')
    for match in matches:
        operator, text = match.groups()
        keep = (lambda value, text=text: value >= text) if operator == ">=" else (lambda value, text=text: value < text)
        records = [record for record in records if keep(as_text(record.updated_at))]
    return records


def keyset_page(
    records: list[Record], cursor: tuple[datetime, int] | None, limit: int, faults: Faults
) -> tuple[list[Record], Record | None]:
    """The page after `cursor` and the record the next cursor names (None on the last page).

    With `faults.loop_from_page`, that page and later ones name the first page's last record: a loop to page 2.
    """
    offset = 0 if cursor is None else bisect.bisect_right(records, cursor, key=record_key)
    page = records[offset : offset + limit]
    if offset + limit >= len(records):
        return page, None
    page_number = offset // limit + 1
    if faults.loop_from_page > 1 and page_number >= faults.loop_from_page:
        return page, records[limit - 1]
    return page, page[-1]


def with_boundary_duplicates(records: list[Record], offset: int, limit: int, faults: Faults) -> list[Record]:
    """`records[offset:offset + limit]`, after the last `faults.boundary_duplicates` records of the page before."""
    return records[max(0, offset - faults.boundary_duplicates) if offset else 0 : offset + limit]


def items(dataset: Dataset, faults: Faults, request: Request) -> Reply:
    """Page-number pagination: page is 1-based, a page past the end is empty; `order=desc` serves the newest
    first (for APIs read without a time filter)."""
    page = 1 if faults.ignore_paging else size_param(request, "page", 1, maximum=10**9)
    asked = size_param(request, "per_page", DEFAULT_PAGE_SIZE)
    per_page = faults.page_size(asked)
    order = request.param("order") or "asc"
    if order not in ("asc", "desc"):
        raise BadRequest("order", f"must be asc or desc, got {order!r}")
    records = windowed(dataset, faults, request)
    if order == "desc":
        records = records[::-1]
    offset = (page - 1) * per_page
    served = with_boundary_duplicates(records, offset, per_page, faults) if offset < len(records) else []
    if offset and offset >= len(records) and faults.past_end_404:
        return past_end()
    reply = Reply(
        200,
        {
            "items": [faults.record_json(record) for record in served],
            "total": faults.total(len(records)),
            "page": page,
            "per_page": per_page if faults.page_cap_echo else asked,
        },
    )
    if page == 1:
        faults.move_records(dataset, records)
    return reply


def events(dataset: Dataset, faults: Faults, request: Request) -> Reply:
    """Cursor (keyset) pagination: the cursor names the last record served, so inserts never shift pages."""
    limit = faults.page_size(size_param(request, "limit", DEFAULT_PAGE_SIZE))
    found = windowed(dataset, faults, request)
    cursor_text, last_id = request.param("cursor"), request.param("starting_after")
    cursor_text, empty = held_cursor(cursor_text, faults)
    if empty:
        return Reply(200, {"data": [], "meta": {"next_cursor": HOLD + cursor_text}, "has_more": True})
    cursor = None if cursor_text is None else decode_cursor(cursor_text)
    if last_id is not None:
        last = next((record for record in found if str(record.id) == last_id), None)
        if last is None:
            raise BadRequest("starting_after", f"no record {last_id!r} in this window")
        cursor = record_key(last)
    page, after = keyset_page(found, cursor, limit, faults)
    if cursor is None:
        faults.move_records(dataset, found)
    return Reply(
        200,
        {
            "data": [faults.record_json(record) for record in page],
            "meta": {"next_cursor": encode_cursor(after) if after else None},
            "has_more": after is not None,
        },
    )


def records(dataset: Dataset, faults: Faults, request: Request) -> Reply:
    """Offset pagination: `offset` records skipped, at most `limit` returned; an offset past the end is empty."""
    offset = 0 if faults.ignore_paging else positive_int(request.param("offset"), "offset", 0, minimum=0)
    limit = faults.page_size(size_param(request, "limit", DEFAULT_PAGE_SIZE))
    found = windowed(dataset, faults, request)
    if offset and offset >= len(found) and faults.past_end_404:
        return past_end()
    served = with_boundary_duplicates(found, offset, limit, faults) if offset < len(found) else []
    reply = Reply(200, {"records": [faults.record_json(r) for r in served], "total": faults.total(len(found))})
    if offset == 0:
        faults.move_records(dataset, found)
    return reply


def feed(dataset: Dataset, faults: Faults, request: Request) -> Reply:
    """Next-URL pagination: `links.next` is the absolute URL of the next page (null on the last page)."""
    limit = size_param(request, "limit", DEFAULT_PAGE_SIZE)
    token, empty = held_cursor(request.param("page_token"), faults)
    if empty:
        page, next_token = [], HOLD + token
    else:
        cursor = None if token is None else decode_cursor(token, "page_token")
        found = windowed(dataset, faults, request)
        page, after = keyset_page(found, cursor, faults.page_size(limit), faults)
        next_token = None if after is None else encode_cursor(after)
        if cursor is None:
            faults.move_records(dataset, found)
    next_url = None
    if next_token is not None:
        params = {
            "since": request.param("since"),
            "until": request.param("until"),
            "limit": limit,
            "page_token": next_token,
        }
        next_url = link_to(faults.next_url_host or request.origin, request.path, params)
    return Reply(200, {"entries": [faults.record_json(record) for record in page], "links": {"next": next_url}})
