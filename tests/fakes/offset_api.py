"""An offset-paged API over the sample API's data set: `GET /records?since=&until=&offset=&limit=` answers
`{"records": [...], "count": total}`; `max_in_flight` is the most requests it handled at once."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from sample_api import Dataset, parse_instant
from tests.fakes import LocalServer, send_bytes


class OffsetApi(LocalServer):
    """`with OffsetApi(Dataset(), latency_ms=20) as api: api.url`."""

    def __init__(self, dataset: Dataset, latency_ms: float = 0.0):
        self.dataset = dataset
        self.latency_ms = latency_ms
        self.max_in_flight = 0
        self.requests = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._serve(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                with api._lock:
                    api._in_flight += 1
                    api.requests += 1
                    api.max_in_flight = max(api.max_in_flight, api._in_flight)
                try:
                    time.sleep(api.latency_ms / 1000)
                    query = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
                    records = api.dataset.window(parse_instant(query["since"]), parse_instant(query["until"]))
                    offset, limit = int(query["offset"]), int(query["limit"])
                    body = {"records": [r.as_json() for r in records[offset : offset + limit]], "count": len(records)}
                    payload = json.dumps(body).encode()
                finally:  # before a byte of the answer is sent (see sample_api's `answered`)
                    with api._lock:
                        api._in_flight -= 1
                send_bytes(self, payload)

        return Handler
