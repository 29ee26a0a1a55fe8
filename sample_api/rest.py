"""The generic REST routes, one per pagination style, all over the same data set (`since` inclusive, `until`
exclusive):

- `GET /items?page=&per_page=&order=` page numbers, with `total`, oldest first (`order=desc`: newest first);
- `GET /events?cursor=&limit=` an opaque cursor at `meta.next_cursor`, with `has_more`; or, Stripe's way,
  `starting_after=<id of the last record seen>`;
- `GET /records?offset=&limit=` offset and limit, with `total`;
- `GET /feed?limit=&page_token=` the next page's absolute URL at `links.next`.

The window is read as `windowed` says (`Faults.exclusive_since`, `bound_precision`, `text_filter`).
Records are written by `Faults.record_json` (timestamp style, stripped fields); page-number and offset pages
repeat the end of the page before when `Faults.boundary_duplicates` is set.
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
    page = size_param(request, "page", 1, maximum=10**9)
    per_page = size_param(request, "per_page", DEFAULT_PAGE_SIZE)
    order = request.param("order") or "asc"
    if order not in ("asc", "desc"):
        raise BadRequest("order", f"must be asc or desc, got {order!r}")
    records = windowed(dataset, faults, request)
    if order == "desc":
        records = records[::-1]
    offset = (page - 1) * per_page
    served = with_boundary_duplicates(records, offset, per_page, faults) if offset < len(records) else []
    return Reply(
        200,
        {
            "items": [faults.record_json(record) for record in served],
            "total": len(records),
            "page": page,
            "per_page": per_page,
        },
    )


def events(dataset: Dataset, faults: Faults, request: Request) -> Reply:
    """Cursor (keyset) pagination: the cursor names the last record served, so inserts never shift pages."""
    limit = size_param(request, "limit", DEFAULT_PAGE_SIZE)
    found = windowed(dataset, faults, request)
    cursor_text, last_id = request.param("cursor"), request.param("starting_after")
    cursor = None if cursor_text is None else decode_cursor(cursor_text)
    if last_id is not None:
        last = next((record for record in found if str(record.id) == last_id), None)
        if last is None:
            raise BadRequest("starting_after", f"no record {last_id!r} in this window")
        cursor = record_key(last)
    page, after = keyset_page(found, cursor, limit, faults)
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
    offset = positive_int(request.param("offset"), "offset", 0, minimum=0)
    limit = size_param(request, "limit", DEFAULT_PAGE_SIZE)
    found = windowed(dataset, faults, request)
    served = with_boundary_duplicates(found, offset, limit, faults) if offset < len(found) else []
    return Reply(200, {"records": [faults.record_json(r) for r in served], "total": len(found)})


def feed(dataset: Dataset, faults: Faults, request: Request) -> Reply:
    """Next-URL pagination: `links.next` is the absolute URL of the next page (null on the last page)."""
    limit = size_param(request, "limit", DEFAULT_PAGE_SIZE)
    token = request.param("page_token")
    cursor = None if token is None else decode_cursor(token, "page_token")
    page, after = keyset_page(windowed(dataset, faults, request), cursor, limit, faults)
    next_url = None
    if after is not None:
        params = {
            "since": request.param("since"),
            "until": request.param("until"),
            "limit": limit,
            "page_token": encode_cursor(after),
        }
        next_url = link_to(faults.next_url_host or request.origin, request.path, params)
    return Reply(200, {"entries": [faults.record_json(record) for record in page], "links": {"next": next_url}})
