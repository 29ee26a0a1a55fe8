"""Broken answers: what the sample API sends for each kind of `faults.ANSWER_FAULTS`."""

from __future__ import annotations

import dataclasses
import email.utils
import time
from typing import Any

from sample_api.faults import Faults
from sample_api.protocol import Reply

HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The upstream server is not answering.</p></body></html>\n"
)
_STATUS_BODIES = {
    401: {"message": "Bad credentials"},
    403: {"message": "Forbidden: this token may not read this resource"},
    404: {"message": "Not Found"},
}


def retry_after_value(faults: Faults) -> str:
    """The Retry-After header of a 429: `retry_after` as sent, or as the HTTP date that many seconds ahead."""
    if not faults.retry_after_date:
        return faults.retry_after
    return email.utils.formatdate(time.time() + float(faults.retry_after), usegmt=True)


def status_answer(status: int, faults: Faults) -> Reply:
    """An error status with a JSON body (and Retry-After on a 429, WWW-Authenticate on a 401)."""
    headers = {}
    if status == 429:
        headers["Retry-After"] = retry_after_value(faults)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="sample-api"'
    return Reply(status, _STATUS_BODIES.get(status, {"error": f"injected {status}"}), headers)


def broken_answer(kind: str, answer: Reply, faults: Faults) -> Reply:
    """The answer of kind `kind` in place of `answer` (the route's own); `stall` is the caller's to do."""
    if kind.isdigit():
        return status_answer(int(kind), faults)
    if kind == "drop":
        return dataclasses.replace(answer, drop_after=len(answer.payload()) // 2)
    if kind == "malformed_json":
        payload = answer.payload()
        return dataclasses.replace(answer, raw=payload[: max(1, len(payload) // 2)])
    if kind == "html_200":
        return Reply(200, None, {"Content-Type": "text/html; charset=utf-8"}, raw=HTML_ERROR_PAGE)
    if kind == "empty_200":
        return Reply(200, None, raw=b"")
    if kind == "error_200":
        return Reply(200, {"error": {"code": "backend_unavailable", "message": "try again later"}})
    if kind == "huge_page":
        return padded(answer, faults.huge_page_bytes)
    if kind == "null_200":
        return Reply(200, None)
    if kind == "no_content_204":
        return Reply(204, None, raw=b"")
    if kind == "null_errors":
        return without_records(answer, None, errors=[{"message": "internal error: the query failed"}])
    if kind == "empty_error":
        return without_records(answer, [], error="query timed out")
    return answer


def without_records(answer: Reply, records: list | None, **error: object) -> Reply:
    """`answer` with every list in its JSON object, however deep (its records), replaced by `records`, and
    `error` added at its top."""
    if not isinstance(answer.body, dict):
        return answer

    def emptied(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: emptied(inner) for key, inner in value.items()}
        return records if isinstance(value, list) else value

    return dataclasses.replace(answer, body={**emptied(answer.body), **error})


def padded(answer: Reply, size: int) -> Reply:
    """`answer` with a `padding` string added to its JSON object so that the body is about `size` bytes."""
    if not isinstance(answer.body, dict):
        return answer
    filler = max(0, size - len(answer.payload()) - len(', "padding": ""'))
    return dataclasses.replace(answer, body={**answer.body, "padding": "x" * filler})
