"""A local fake of the Dataflow REST API (flexTemplates.launch and jobs.get) that records every request."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import LocalServer, send_json


class FakeDataflow(LocalServer):
    """Answers like Dataflow's v1b3 REST API on 127.0.0.1; `job_states` sets what jobs.get returns, and
    `refuse_launches` makes flexTemplates.launch answer 400 (as for a template it cannot read)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.job_states: dict[str, str] = {}
        self.refuse_launches = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append({"method": "POST", "path": self.path.split("?")[0], "body": body})
                if fake.refuse_launches:
                    error = {"code": 400, "message": "Invalid template file", "status": "INVALID_ARGUMENT"}
                    send_json(self, {"error": error}, 400)
                    return
                job_id = f"2026-01-01_00_00_00-{len(fake.requests)}"
                fake.job_states[job_id] = "JOB_STATE_PENDING"
                name = body["launchParameter"]["jobName"]
                send_json(self, {"job": {"id": job_id, "name": name, "currentState": "JOB_STATE_PENDING"}})

            def do_GET(self) -> None:
                fake.requests.append({"method": "GET", "path": self.path.split("?")[0], "body": None})
                job_id = self.path.split("?")[0].rsplit("/", 1)[-1]
                send_json(self, {"id": job_id, "currentState": fake.job_states.get(job_id, "JOB_STATE_UNKNOWN")})

        self._serve(Handler)
