"""An offset-paged API over the sample API's data set: `GET /records?since=&until=&offset=&limit=` answers
`{"records": [...], "count": total}`; `max_in_flight` is the most requests it handled at once."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sample_api import Dataset, parse_instant


class OffsetApi:
    """`with OffsetApi(Dataset(), latency_ms=20) as api: api.url`."""

    def __init__(self, dataset: Dataset, latency_ms: float = 0.0):
        self.dataset = dataset
        self.latency_ms = latency_ms
        self.max_in_flight = 0
        self.requests = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

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
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> OffsetApi:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
