"""Small HTTP servers on 127.0.0.1 for behaviours the sample API does not have."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LocalServer:
    """A server on 127.0.0.1 (a free port) answering with a handler class, on a thread while in a `with` block;
    a subclass calls `_serve(Handler)` at the end of its `__init__`."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def send_json(handler: BaseHTTPRequestHandler, payload: Any, status: int = 200) -> None:
    """Answer the request `handler` serves with `payload` as JSON."""
    send_bytes(handler, json.dumps(payload).encode(), status)


def send_bytes(handler: BaseHTTPRequestHandler, data: bytes, status: int = 200) -> None:
    """Answer the request `handler` serves with `data`, JSON already encoded."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
