"""json-server 0.17 (https://github.com/typicode/json-server, Node.js), installed by `make real-servers` from
npm, serving a JSON file on a free port of 127.0.0.1.

Its list API: `GET /items?_page=&_limit=&<field>_gte=&<field>_lte=&_sort=`; the body is the list itself, the
count is in `X-Total-Count`, and a `Link` header (first, prev, next, last) comes only when `_page` is in the
query. Bounds compare as text; `_gte` and `_lte` are its only range operators (no `_lt`), and a parameter it
does not know as a field or operator (`updated_at_lt`) is dropped without a word. No page cap, no auth, no rate
limiter.
"""

from __future__ import annotations

import json
from pathlib import Path

from beam_api_pipeline.core.windowing import format_utc
from tests.real_servers.dataset import Dataset
from tests.real_servers.servers import ServerProcess, free_port, installed


class JsonServer:
    """json-server serving `dataset` as `/items`, each record `{id, updated_at}` (ISO 8601, `Z`)."""

    def __init__(self, folder: Path, dataset: Dataset):
        binary = str(installed("JSON_SERVER", "json-server"))
        items = [{"id": dataset.id_of(n), "updated_at": format_utc(dataset.time_of(n))} for n in range(dataset.count)]
        (folder / "db.json").write_text(json.dumps({"items": items}))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [binary, "--host", "127.0.0.1", "--port", str(port), "--quiet", "db.json"]
        self._process = ServerProcess(command, f"{self.url}/items?_limit=1", folder / "json-server.log", folder)

    def stop(self) -> None:
        self._process.stop()
