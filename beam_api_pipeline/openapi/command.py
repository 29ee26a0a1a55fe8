"""`init --openapi SPEC`: list a document's list endpoints, or write the pipeline YAML for the chosen ones."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from beam_api_pipeline.core.errors import ConfigError

from .detect import ListEndpoint, list_endpoints, name_uniquely
from .render import render
from .spec import load_spec


def describe(endpoint: ListEndpoint) -> str:
    """One line of the listing: what was detected for `endpoint` (`?` marks a guess, `TODO` what is missing)."""

    def shown(value: object, why: str | None) -> str:
        return f"{value}?" if why else str(value)

    paging = endpoint.pagination.value or {}
    stamp, key = endpoint.timestamp_field, endpoint.primary_key
    tf = endpoint.time_filter.value
    if endpoint.parent:
        time = "none (a child)"
    elif tf:
        bounds = f"{tf.start_param}..{tf.end_param}" if tf.end_param else tf.start_param
        time = shown(f"{bounds} ({tf.time_format})", endpoint.time_filter.why)
    else:
        time = "client sort" if endpoint.sort_params else "TODO"
    parts = [
        f"records={endpoint.records_path.value or '(root)'}",
        f"pagination={shown(paging.get('strategy', 'TODO'), endpoint.pagination.why)}",
        f"page_size={paging.get('page_size', '-')}",
        f"time_filter={time}",
        f"timestamp={shown(stamp.value, stamp.why) if stamp.value else 'TODO'}",
        f"primary_key={shown(key.value, key.why) if key.value else 'TODO'}",
    ]
    if endpoint.parent:
        parts.append(f"parent={endpoint.parent[0]} ({endpoint.parent[1]} = {endpoint.parent[2]})")
    return f"{endpoint.name}  GET {endpoint.path}  " + "  ".join(parts)


def choose(endpoints: list[ListEndpoint], wanted: list[str]) -> list[ListEndpoint]:
    """The endpoints named (by name, path or operationId) in `wanted`, with the parents they need, parents
    first, named uniquely among themselves; a ConfigError naming any that is not a list endpoint."""
    by_key: dict[str, ListEndpoint] = {}
    for endpoint in endpoints:
        for key in (endpoint.name, endpoint.path, endpoint.operation_id):
            by_key.setdefault(key, endpoint)
    missing = [name for name in wanted if name not in by_key]
    if missing:
        raise ConfigError(f"--endpoints: not a list endpoint of the document: {', '.join(missing)}")
    by_path = {endpoint.path: endpoint for endpoint in endpoints}
    chosen: list[ListEndpoint] = []

    def add(endpoint: ListEndpoint) -> None:
        if endpoint.parent:
            add(by_path[endpoint.parent[0]])
        if endpoint not in chosen:
            chosen.append(endpoint)

    for name in wanted:
        add(by_key[name])
    name_uniquely(chosen)
    return chosen


def init_openapi(
    spec_source: str, wanted: list[str], out: str | None, base_url: str | None, today: datetime | None = None
) -> str:
    """The listing (no `wanted`) or the YAML written to `out` (printed when `out` is None); `today` dates the
    initial watermark (default: now)."""
    spec = load_spec(spec_source)
    endpoints = list_endpoints(spec)
    if not wanted:
        return "\n".join(describe(endpoint) for endpoint in endpoints) + "\n"
    servers = spec.get("servers") or [{}]
    url = _server_url(servers[0])
    text = render(spec, choose(endpoints, wanted), spec_source, base_url or url, url, today)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        return f"wrote {out}\n"
    return text


def _server_url(server: dict) -> str:
    url = str(server.get("url") or "")
    for name, variable in (server.get("variables") or {}).items():
        url = url.replace(f"{{{name}}}", str((variable or {}).get("default", "")))
    return url.rstrip("/") or "TODO"
