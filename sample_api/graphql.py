"""A GraphQL route: `POST /graphql` with `{"query", "variables"}`, answering one Relay connection, `events`.

The query text is not parsed: a query that mentions `events` gets the connection
`{"data": {"events": {"nodes": [...], "totalCount": N, "pageInfo": {"hasNextPage", "endCursor"}}}}`
over the data set, read with the variables `since`, `until` (date-times), `first` (page size) and `after`
(a cursor). Problems are answered as GraphQL servers answer them: status 200 with an `errors` array.
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
from sample_api.rest import keyset_page


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
        first = min(positive_int(variables.get("first"), "first", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        after = variables.get("after")
        cursor = None if after is None else decode_cursor(str(after), "after")
    except BadRequest as error:
        return _error(f"Variable ${error}", ["events"])
    found = dataset.window(since, until)
    page, next_record = keyset_page(found, cursor, first, faults)
    connection = {
        "nodes": [faults.record_json(record) for record in page],
        "totalCount": len(found),
        "pageInfo": {
            "hasNextPage": next_record is not None,
            "endCursor": encode_cursor(next_record or page[-1]) if page else None,
        },
    }
    return Reply(200, {"data": {"events": connection}})
