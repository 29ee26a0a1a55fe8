"""PocketBase (https://pocketbase.io, Go), built by `make real-servers` from the Go module proxy
(`github.com/pocketbase/pocketbase/examples/base`), run on a free port of 127.0.0.1 with its data in a folder of
its own.

Its list API: `GET /api/collections/{c}/records?page=&perPage=&filter=&sort=` answers
`{items, page, perPage, totalItems, totalPages}`; `perPage` is capped at 1000 without a word (the answer echoes
the size served); `filter` is one expression, and dates compare as text in PocketBase's own format
(`2024-01-05 00:00:00.000Z`). A collection's `listRule` filters what a caller sees: a caller the rule does not
admit (no token, a wrong or expired one) gets `200` with an empty list; a collection without a rule answers
403 to everyone but superusers. Its rate limiter (settings `rateLimits`) answers 429 and never limits
superusers, so the pipeline reads as an ordinary account (the `users` collection, or `short_readers`, whose
tokens expire after 10 s, its shortest).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import requests

from beam_api_pipeline.core.timeformat import format_bound
from tests.real_servers.dataset import Dataset
from tests.real_servers.servers import ServerProcess, free_port, installed

ADMIN = ("admin@example.com", "admin-pass-1234")
#: The pipeline's accounts: `READER` in `users` (tokens valid for PocketBase's default 7 days) and `SHORT_READER`
#: in `short_readers`, whose tokens expire `SHORT_TOKEN_SECONDS` after their login.
READER = ("reader@example.com", "reader-pass-1234")
SHORT_READER = ("short@example.com", "short-pass-1234")
SHORT_TOKEN_SECONDS = 10  # PocketBase's shortest
#: Any signed-in account may list `items`; nobody but a superuser may list `private_items`.
READER_RULE = '@request.auth.id != ""'
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%3fZ"  # PocketBase's dates, with milliseconds
BATCH = 1000  # records per seeding request (`/api/batch`)
BATCH_TIMEOUT_SECONDS = 60


class PocketBase:
    """A PocketBase server with a superuser (`ADMIN`), a reader account (`READER`) and the collections
    `items` (readable by the reader) and `private_items` (superusers only), each of `changed_at` dates."""

    def __init__(self, folder: Path):
        binary = str(installed("POCKETBASE", "pocketbase"))
        data = folder / "pb_data"
        subprocess.run([binary, "superuser", "upsert", *ADMIN, f"--dir={data}"], check=True, capture_output=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [binary, "serve", f"--http=127.0.0.1:{port}", f"--dir={data}"]
        self._process = ServerProcess(command, f"{self.url}/api/health", folder / "pocketbase.log", folder)
        self._admin = requests.Session()
        self._admin.headers["Authorization"] = self.login("_superusers", *ADMIN)
        # a batch may take its time: PocketBase fails one that outlasts `timeout` (3 s by default), which a busy
        # machine reaches with a thousand records
        batch = {"enabled": True, "maxRequests": BATCH, "timeout": BATCH_TIMEOUT_SECONDS}
        self.call("PATCH", "/api/settings", json={"batch": batch})
        self.call("POST", "/api/collections/users/records", json=_account(*READER))
        short = {"name": "short_readers", "type": "auth", "authToken": {"duration": SHORT_TOKEN_SECONDS}}
        self.call("POST", "/api/collections", json=short)
        self.call("POST", "/api/collections/short_readers/records", json=_account(*SHORT_READER))
        for name, rule in (("items", READER_RULE), ("private_items", None)):
            fields = [{"name": "changed_at", "type": "date"}]
            self.call(
                "POST", "/api/collections", json={"name": name, "type": "base", "fields": fields, "listRule": rule}
            )

    def login(self, collection: str, identity: str, password: str) -> str:
        """A token of `identity` in the auth collection `collection`."""
        answer = requests.post(
            f"{self.url}/api/collections/{collection}/auth-with-password",
            json={"identity": identity, "password": password},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["token"]

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A superuser's request; raises with PocketBase's answer when it fails."""
        answer = self._admin.request(method, self.url + path, timeout=60, **kwargs)
        if not answer.ok:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None

    def seed(self, collection: str, dataset: Dataset) -> None:
        """Create `dataset`'s records in `collection` (in batches of `BATCH`)."""
        records = [
            {"id": dataset.id_of(n), "changed_at": format_bound(dataset.time_of(n), TIME_FORMAT)}
            for n in range(dataset.count)
        ]
        for first in range(0, len(records), BATCH):
            requests_ = [
                {"method": "POST", "url": f"/api/collections/{collection}/records", "body": record}
                for record in records[first : first + BATCH]
            ]
            self.call("POST", "/api/batch", json={"requests": requests_})

    def set_rate_limits(self, rules: list[dict[str, Any]]) -> None:
        """PocketBase's rate limiter on with only `rules` (`label`, `maxRequests`, `duration` s, `audience`),
        or off when `rules` is empty."""
        self.call("PATCH", "/api/settings", json={"rateLimits": {"enabled": bool(rules), "rules": rules}})

    def stop(self) -> None:
        self._process.stop()


def _account(email: str, password: str) -> dict[str, str]:
    return {"email": email, "password": password, "passwordConfirm": password}
