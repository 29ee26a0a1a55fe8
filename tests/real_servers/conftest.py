"""Fixtures for the real servers: each started once for this folder on a free port of 127.0.0.1, seeded, and
stopped when the tests end; pipeline configs for them written to real files.

The PocketBase configs sign in with `auth_type: login` and send both window bounds in one `filter` expression
(a window template in `params`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.real_servers.dataset import Dataset
from tests.real_servers.datasette import Datasette
from tests.real_servers.json_server import JsonServer
from tests.real_servers.pocketbase import READER, TIME_FORMAT, PocketBase
from tests.support import merged

#: 3000 records over [2024-01-02, 2024-01-08), one every 172.8 s: one on each midnight, most between seconds.
POCKETBASE_DATA = Dataset(count=3000, step=timedelta(milliseconds=172_800))
#: What `private_items` holds: 10 records on 2024-01-02.
POCKETBASE_PRIVATE = Dataset(count=10, step=timedelta(hours=1))
#: json-server's and Datasette's records: 3000 over [2024-01-02, 2024-01-07), one every 144 s, one on each
#: midnight; whole seconds, as both compare bounds as text (`12:00:00.500Z` sorts before `12:00:00Z`).
WHOLE_SECONDS_DATA = Dataset(count=3000, step=timedelta(seconds=144))


@pytest.fixture(scope="session")
def pocketbase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PocketBase]:
    server = PocketBase(tmp_path_factory.mktemp("pocketbase"))
    try:
        server.seed("items", POCKETBASE_DATA)
        server.seed("private_items", POCKETBASE_PRIVATE)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsonServer]:
    server = JsonServer(tmp_path_factory.mktemp("json_server"), WHOLE_SECONDS_DATA)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def datasette(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Datasette]:
    server = Datasette(tmp_path_factory.mktemp("datasette"), WHOLE_SECONDS_DATA)
    try:
        yield server
    finally:
        server.stop()


def pocketbase_auth(server: PocketBase, account: tuple[str, str] = READER, collection: str = "users") -> dict:
    """`auth_config` signing in as `account` of the auth collection `collection`: PocketBase's
    auth-with-password, its token bare in `Authorization` (renewed before the JWT's `exp`)."""
    credentials = {
        "login_path": f"/api/collections/{collection}/auth-with-password",
        "username_field": "identity",
        "username": account[0],
        "password": account[1],
        "token_path": "token",
    }
    return {"auth_type": "login", "headers_prefix": "", "auth_credentials": credentials}


def pocketbase_config(server: PocketBase, folder: Path, **changes: Any) -> dict[str, Any]:
    """A pipeline config for PocketBase's `items` records, read as `READER`: both window bounds in one `filter`
    expression in PocketBase's date format, page numbers of 200 (`totalItems`), daily windows from 2024-01-02;
    rows, dead letters and state under `folder`; `changes` merged in."""
    bounds = f'changed_at >= "{{window_start:{TIME_FORMAT}}}" && changed_at < "{{window_end:{TIME_FORMAT}}}"'
    base = {
        "pipeline_id": "pocketbase_items",
        "extractor_class": "rest",
        "api_config": {
            "base_url": server.url,
            "timeout": 10,
            "endpoints": {
                "items": {
                    "path": "/api/collections/items/records",
                    "records_path": "items",
                    "primary_key": "id",
                    "params": {"sort": "changed_at,id", "filter": bounds},
                }
            },
            "auth_config": pocketbase_auth(server),
            "pagination": {
                "strategy": "page_number",
                "page_param": "page",
                "size_param": "perPage",
                "page_size": 200,
                "total_path": "totalItems",
            },
            "retry": {"max_attempts": 8, "base_delay": 0.2, "max_delay": 1, "max_time": 30},
            "watermark": {
                "enabled": True,
                "timestamp_field": "changed_at",
                "initial_watermark": "2024-01-02T00:00:00Z",
                "window": {"window_size": "24h"},
            },
        },
        **_written_under(folder),
    }
    return merged(base, changes)


def json_server_config(server: JsonServer, folder: Path, **changes: Any) -> dict[str, Any]:
    """A pipeline config for json-server's `/items`: `Link` header pages of 200 (`_page` given, or json-server
    sends no `Link`), the window as `updated_at_gte` / `updated_at_lte` with the end inclusive (json-server has
    no `_lt`), daily windows from 2024-01-02; rows, dead letters and state under `folder`; `changes` merged in."""
    base = {
        "pipeline_id": "json_server_items",
        "extractor_class": "rest",
        "api_config": {
            "base_url": server.url,
            "timeout": 10,
            "endpoints": {
                "items": {
                    "path": "/items",
                    "records_path": "",
                    "primary_key": "id",
                    "params": {"_page": 1, "_sort": "updated_at,id"},
                }
            },
            "pagination": {"strategy": "link_header", "size_param": "_limit", "page_size": 200},
            "retry": {"max_attempts": 5, "base_delay": 0.2, "max_delay": 1, "max_time": 30},
            "watermark": {
                "enabled": True,
                "timestamp_field": "updated_at",
                "watermark_field": "updated_at_gte",
                "window_end_field": "updated_at_lte",
                "end_inclusive": True,
                "initial_watermark": "2024-01-02T00:00:00Z",
                "window": {"window_size": "24h"},
            },
        },
        **_written_under(folder),
    }
    return merged(base, changes)


def datasette_config(server: Datasette, token: str, folder: Path, **changes: Any) -> dict[str, Any]:
    """A pipeline config for Datasette's table `items`, read with the API token `token`: keyset pages of 200
    (`_next` from `next`), the window as `changed_at__gte` / `changed_at__lt`, daily windows from 2024-01-02;
    rows, dead letters and state under `folder`; `changes` merged in."""
    base = {
        "pipeline_id": "datasette_items",
        "extractor_class": "rest",
        "api_config": {
            "base_url": server.url,
            "timeout": 10,
            "endpoints": {
                "items": {
                    "path": "/data/items.json",
                    "records_path": "rows",
                    "primary_key": "id",
                    "params": {"_sort": "changed_at"},
                }
            },
            "auth_config": {"auth_type": "bearer", "auth_credentials": {"token": token}},
            "pagination": {
                "strategy": "cursor",
                "cursor_param": "_next",
                "cursor_path": "next",
                "limit_param": "_size",
                "page_size": 200,
            },
            "retry": {"max_attempts": 5, "base_delay": 0.2, "max_delay": 1, "max_time": 30},
            "watermark": {
                "enabled": True,
                "timestamp_field": "changed_at",
                "watermark_field": "changed_at__gte",
                "window_end_field": "changed_at__lt",
                "initial_watermark": "2024-01-02T00:00:00Z",
                "window": {"window_size": "24h"},
            },
        },
        **_written_under(folder),
    }
    return merged(base, changes)


def _written_under(folder: Path) -> dict[str, Any]:
    """Rows, dead letters and the control store under `folder`."""
    return {
        "output": [{"type": "local", "config": {"path": str(folder / "out"), "batch_size": 1000}}],
        "dead_letter": {"path": str(folder / "dead_letter")},
        "watermark_store": {"type": "local", "path": str(folder / "state" / "control.db")},
    }
