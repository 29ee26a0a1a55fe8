"""An HTTP proxy in front of the BigQuery emulator that answers dataset creation with 403, as BigQuery answers an
account that holds dataset-level roles only (`bigquery.dataEditor` on the dataset, `bigquery.jobUser` on the
project): `bigquery.datasets.create` is a project permission, checked before BigQuery looks whether the dataset
exists, so `create_dataset(..., exists_ok=True)` fails too. Every other request goes through unchanged."""

from __future__ import annotations

import http.client
import json
import re
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes import LocalServer, send_bytes

#: datasets.insert: POST /bigquery/v2/projects/{project}/datasets
_CREATE_DATASET = re.compile(r"/bigquery/v2/projects/(?P<project>[^/]+)/datasets/?")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def access_denied(project: str) -> bytes:
    """BigQuery's answer to datasets.insert without `bigquery.datasets.create` on `project`."""
    message = (
        f"Access Denied: Project {project}: User does not have bigquery.datasets.create permission in project "
        f"{project}."
    )
    error = {
        "code": 403,
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": "accessDenied"}],
    }
    return json.dumps({"error": error | {"status": "PERMISSION_DENIED"}}).encode()


class ForbiddingBigQueryProxy(LocalServer):
    """Forwards to `upstream` (`http://host:port`), but for dataset creation; `requests` holds (method, path) of
    each request it received, query strings left out."""

    def __init__(self, upstream: str) -> None:
        self.requests: list[tuple[str, str]] = []
        target = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                path = self.path.split("?", 1)[0]
                proxy.requests.append((self.command, path))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                denied = _CREATE_DATASET.fullmatch(path)
                if self.command == "POST" and denied:
                    send_bytes(self, access_denied(denied["project"]), 403)
                    return
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                finally:
                    connection.close()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._serve(Handler)
