"""Conditional requests, as GitHub answers them (`Faults.etags`): every 200 data answer carries a weak `ETag` (a
digest of its body) and a `Last-Modified` (when that body was first served for its URL); a request whose
`If-None-Match` names the current ETag (or, without one, whose `If-Modified-Since` is not before the
Last-Modified) is answered 304 Not Modified with no body, and is not charged to the rate limit."""

from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import threading
import time
from urllib.parse import urlencode

from sample_api.faults import Faults
from sample_api.protocol import Reply, Request


def _url_of(request: Request) -> str:
    """The request's path and query, in a stable order: what its answer's validators belong to."""
    query = sorted((name, value) for name, values in request.query.items() for value in values)
    return f"{request.method} {request.path}?{urlencode(query)}"


class Validation:
    """The ETag each URL's answer has, and since when (its Last-Modified)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, tuple[str, float]] = {}

    def answer(self, request: Request, reply: Reply, faults: Faults) -> Reply:
        """`reply` with its validators, or 304 when the request's validators say the client has it (unless
        `faults.ignore_conditional`); `reply` itself when `faults.etags` is off or it is not a 200 JSON answer."""
        if not faults.etags or reply.status != 200 or reply.raw is not None:
            return reply
        etag = 'W/"' + hashlib.sha256(reply.payload()).hexdigest()[:20] + '"'
        url = _url_of(request)
        with self._lock:
            stored = self._versions.get(url)
            if stored is None or stored[0] != etag:
                stored = self._versions[url] = (etag, float(int(time.time())))
        since = stored[1]
        headers = {"ETag": etag, "Last-Modified": email.utils.formatdate(since, usegmt=True)}
        if not faults.ignore_conditional and _unchanged(request, etag, since):
            return Reply(304, None, headers, raw=b"")
        return dataclasses.replace(reply, headers={**reply.headers, **headers})


def _unchanged(request: Request, etag: str, since: float) -> bool:
    """Whether the request's `If-None-Match` names `etag` (weakly compared), or, without one, its
    `If-Modified-Since` is at or after `since`."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in wanted or etag.removeprefix("W/") in wanted
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        return email.utils.parsedate_to_datetime(if_modified_since).timestamp() >= since
    except (TypeError, ValueError):
        return False
