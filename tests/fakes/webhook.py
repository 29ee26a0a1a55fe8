"""A local webhook receiver (as Slack's incoming webhooks answer) that records every message posted to it."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import LocalServer


class WebhookReceiver(LocalServer):
    """Takes POSTs on 127.0.0.1 at any path; `failing` makes it answer 500 to every one (each still recorded)."""

    def __init__(self, failing: bool = False) -> None:
        self.posts: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append({"path": self.path, "message": json.loads(body)})
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self._serve(Handler)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [post["message"] for post in self.posts]

    def at(self, path: str) -> str:
        """The receiver's URL with `path` (and query)."""
        return self.url + path
