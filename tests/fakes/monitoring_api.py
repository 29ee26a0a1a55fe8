"""A local fake of the parts of the Cloud Logging v2 and Cloud Monitoring v3 REST APIs that `alerts apply` uses
(projects.metrics get/create/update, projects.alertPolicies list/create/patch), storing what it is sent and
recording every request."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import LocalServer, send_json


class FakeMonitoring(LocalServer):
    """Answers like Logging and Monitoring on 127.0.0.1. `metrics` and `policies` hold the stored resources by
    name, as the APIs answer them: a policy gets a name, condition names, `enabled` and a mutation record, and
    fields holding their default (such as `thresholdValue: 0`) are left out.
    `page_size` caps a list page; `errors[(method, path)] = status` makes that request fail."""

    def __init__(self, page_size: int = 100) -> None:
        self.requests: list[dict[str, Any]] = []
        self.metrics: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.errors: dict[tuple[str, str], int] = {}
        self.page_size = page_size
        self._ids = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_PUT(self) -> None:
                self._answer("PUT")

            def do_PATCH(self) -> None:
                self._answer("PATCH")

            def _answer(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length)) if length else None
                with fake._lock:
                    fake.requests.append({"method": method, "path": url.path, "query": query, "body": body})
                    status = fake.errors.get((method, url.path))
                    status, payload = (
                        (status, _error(status, "refused")) if status else fake._route(method, url.path, query, body)
                    )
                send_json(self, payload, status)

        self._lock = threading.Lock()
        self._serve(Handler)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[0] == "v2" and parts[3] == "metrics":
            return self._metric(method, parts[4] if len(parts) > 4 else None, body)
        if parts[0] == "v3" and parts[3] == "alertPolicies":
            return self._policy(method, "/".join(parts[1:]), query, body)
        return 404, _error(404, f"no such resource: {path}")

    def _metric(self, method: str, name: str | None, body: Any) -> tuple[int, Any]:
        if method == "POST" and name is None:
            if body["name"] in self.metrics:
                return 409, _error(409, f"metric {body['name']} already exists")
            self.metrics[body["name"]] = _stored_metric(body)
            return 200, self.metrics[body["name"]]
        if name not in self.metrics:
            return 404, _error(404, f"metric {name} does not exist")
        if method == "PUT":
            self.metrics[name] = _stored_metric(body)
        return 200, self.metrics[name]

    def _policy(self, method: str, name: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        parent = "/".join(name.split("/")[:3])
        if method == "GET" and name == parent:
            return 200, self._page(parent, query)
        if method == "POST" and name == parent:
            self._ids += 1
            policy = self._with_names({"enabled": True, **body, "name": f"{parent}/{self._ids}"})
            self.policies[policy["name"]] = policy
            return 200, policy
        if method == "PATCH" and name in self.policies:
            fields = query.get("updateMask", ",".join(body)).split(",")
            changed = {field: body[field] for field in fields if field in body}
            self.policies[name] = self._with_names({**self.policies[name], **changed})
            return 200, self.policies[name]
        return 404, _error(404, f"alert policy {name} does not exist")

    def _page(self, parent: str, query: dict[str, str]) -> dict[str, Any]:
        names = sorted(name for name in self.policies if name.startswith(f"{parent}/"))
        start = int(query.get("pageToken", 0))
        size = min(int(query.get("pageSize", self.page_size)), self.page_size)
        page: dict[str, Any] = {"alertPolicies": [self.policies[name] for name in names[start : start + size]]}
        if start + size < len(names):
            page["nextPageToken"] = str(start + size)
        return page

    def _with_names(self, policy: dict[str, Any]) -> dict[str, Any]:
        conditions = []
        for condition in policy.get("conditions", []):
            if "name" not in condition:
                self._ids += 1
                condition = {**condition, "name": f"{policy['name']}/conditions/{self._ids}"}
            conditions.append(condition)
        stored = {**policy, "conditions": conditions, "mutationRecord": {"mutateTime": "2026-01-01T00:00:00Z"}}
        return without_defaults(stored)


def _stored_metric(body: dict[str, Any]) -> dict[str, Any]:
    """A metric as the API answers it: with its descriptor's type and a creation time, without defaults."""
    descriptor = {**body.get("metricDescriptor", {}), "type": f"logging.googleapis.com/user/{body['name']}"}
    return without_defaults({**body, "metricDescriptor": descriptor, "createTime": "2026-01-01T00:00:00Z"})


def without_defaults(node: Any) -> Any:
    """`node` as proto3 JSON answers it: fields holding their default (0, "", false, empty) left out."""
    if isinstance(node, dict):
        return {key: without_defaults(value) for key, value in node.items() if value not in (0, "", False, [], {})}
    if isinstance(node, list):
        return [without_defaults(item) for item in node]
    return node


def _error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message}}
