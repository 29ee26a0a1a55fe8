"""Datasette 1.0a41 (https://datasette.io, Python), installed by `make real-servers` from PyPI into a
virtualenv of its own, serving a SQLite file on a free port of 127.0.0.1.

Its table API: `GET /data/items.json?_size=&_sort=&<column>__gte=&<column>__lt=&_next=` answers
`{ok, next, next_url, rows, truncated}`, pages by keyset (`next` is the token for `_next`, null on the last
page); bounds compare as text. `_size` above its `max_returned_rows` (1000 here) is refused with a 400. Only the
actor `reader` may view the database (`datasette.yaml`); a request without its signed API token (`dstok_...`,
sent as a bearer token) or with a wrong one is answered 403, an expired one 401. No rate limiter.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from beam_api_pipeline.core.windowing import format_utc
from tests.real_servers.dataset import Dataset
from tests.real_servers.servers import ServerProcess, free_port, installed

READER = "reader"
SECRET = "datasette-signing-secret"
MAX_ROWS = 1000


class Datasette:
    """Datasette serving `dataset` as the table `items` (`id`, `changed_at` as ISO 8601 text with `Z`) of the
    database `data`, viewable by `READER` only."""

    def __init__(self, folder: Path, dataset: Dataset):
        self._binary = str(installed("DATASETTE", "datasette"))
        with sqlite3.connect(folder / "data.db") as db:
            db.execute("CREATE TABLE items (id TEXT PRIMARY KEY, changed_at TEXT)")
            rows = [(dataset.id_of(n), format_utc(dataset.time_of(n))) for n in range(dataset.count)]
            db.executemany("INSERT INTO items VALUES (?, ?)", rows)
        db.close()
        (folder / "datasette.yaml").write_text(f"databases:\n  data:\n    allow:\n      id: {READER}\n")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [self._binary, "serve", "data.db", "-c", "datasette.yaml", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--secret", SECRET, "--setting", "max_returned_rows", str(MAX_ROWS)]
        self._process = ServerProcess(command, f"{self.url}/-/versions.json", folder / "datasette.log", folder)

    def token(self, actor: str = READER, expires_after: int | None = None) -> str:
        """A signed API token for `actor` (`datasette create-token`)."""
        expiry = ["--expires-after", str(expires_after)] if expires_after else []
        command = [self._binary, "create-token", actor, "--secret", SECRET, *expiry]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()

    def stop(self) -> None:
        self._process.stop()
