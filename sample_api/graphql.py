"""A GraphQL route: `POST /graphql` with `{"query", "variables"}`, answering one Relay connection, `events`.

The query text is not parsed: a query that mentions `events` gets the connection
`{"data": {"events": {"nodes": [...], "totalCount": N, "pageInfo": {"hasNextPage", "endCursor"}}}}`
over the data set, read with the variables `since`, `until` (date-times), `first` (page size, at most
`Faults.page_cap` when set) and `after` (a cursor); `totalCount` is capped at `Faults.capped_total`, and
`Faults.empty_pages` puts an empty page with `hasNextPage: true` before each page after the first.
Problems are answered as GraphQL servers answer them: status 200 with an `errors` array.
"""

from __future__ import annotations

from typing import Any

from sample_api.data import Dataset
from sample_api.faults import Faults
from sample_api.protocol import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    BadRequest,
    Reply,
    Request,
    decode_cursor,
    encode_cursor,
    parse_instant_value,
    positive_int,
)
from sample_api.rest import HOLD, held_cursor, keyset_page


def _error(message: str, path: list[str] | None = None) -> Reply:
    error: dict[str, Any] = {"message": message, "locations": [{"line": 1, "column": 1}]}
    if path:
        error["path"] = path
    return Reply(200, {"data": None, "errors": [error]})


def graphql(dataset: Dataset, faults: Faults, request: Request) -> Reply:
    """Answer one GraphQL request."""
    payload = request.json()
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return _error("Must provide query string.")
    if "events" not in payload["query"]:
        return _error('Cannot query field "unknown" on type "Query".')
    variables = payload.get("variables") or {}
    try:
        since = parse_instant_value(variables.get("since"), "since")
        until = parse_instant_value(variables.get("until"), "until")
        first = faults.page_size(min(positive_int(variables.get("first"), "first", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
        after, empty = held_cursor(None if variables.get("after") is None else str(variables["after"]), faults)
        cursor = None if after is None else decode_cursor(after, "after")
    except BadRequest as error:
        return _error(f"Variable ${error}", ["events"])
    found = dataset.window(since, until)
    if empty:
        info = {"hasNextPage": True, "endCursor": HOLD + after}
        connection = {"nodes": [], "totalCount": faults.total(len(found)), "pageInfo": info}
        return Reply(200, {"data": {"events": connection}})
    page, next_record = keyset_page(found, cursor, first, faults)
    if cursor is None:
        faults.move_records(dataset, found)
    connection = {
        "nodes": [faults.record_json(record) for record in page],
        "totalCount": faults.total(len(found)),
        "pageInfo": {
            "hasNextPage": next_record is not None,
            "endCursor": encode_cursor(next_record or page[-1]) if page else None,
        },
    }
    return Reply(200, {"data": {"events": connection}})
