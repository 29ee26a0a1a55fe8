"""The pipeline YAML `init --openapi` writes: detected values as keys, guesses as comments, and what was not
found as `TODO_<key>` keys, which `validate` refuses (unknown keys) until the user fills them in."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from .detect import Guess, ListEndpoint, TimeFilter, merged, properties, types
from .undeclared_auth import undeclared_auth

#: JSON Schema type → BigQuery type.
_BQ_TYPES = {"string": "STRING", "integer": "INTEGER", "number": "FLOAT", "boolean": "BOOLEAN"}
_BQ_FORMATS = {"date-time": "TIMESTAMP", "date": "DATE"}
_SCHEMA_DEPTH = 3
_SORT_ONLY = (
    "no time filter, only a newest-first sort: watermark.filter: client holds for the whole pipeline, whose other "
    "endpoints filter on the server; give this endpoint a pipeline of its own"
)


def _scalar(value: Any) -> str:
    plain = isinstance(value, str) and re.fullmatch(r"[A-Za-z_/][\w./-]*", value)
    if plain and value.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "y", "n"):
        return value
    return json.dumps(value)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


class _Lines:
    """YAML lines with an optional comment each."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, indent: int, text: str, comment: str | None = None) -> None:
        line = "  " * indent + text
        self.lines.append(f"{line}   # {comment}" if comment else line)

    def key(self, indent: int, key: str, value: Any = None, comment: str | None = None) -> None:
        self.add(indent, f"{key}:" if value is None else f"{key}: {_flow(value)}", comment)

    def block(self, indent: int, key: str, mapping: dict[str, Any], comment: str | None = None) -> None:
        """`mapping` in block style, its nested mappings too."""
        self.key(indent, key, comment=comment)
        for name, value in mapping.items():
            if isinstance(value, dict):
                self.block(indent + 1, name, value)
            else:
                self.key(indent + 1, name, value)


def env_prefix(base_url: str) -> str:
    """The environment-variable prefix of an API: the second-level name of its host (`GITHUB`, `STRIPE`)."""
    labels = [label for label in (urlsplit(base_url).hostname or "api").split(".") if label not in ("www", "api")]
    name = labels[-2] if len(labels) >= 2 else labels[0] if labels else "API"
    return re.sub(r"[^A-Z0-9]+", "_", name.upper())


def bigquery_fields(schema: dict[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    """The BigQuery schema (list of `{name, type, mode[, fields]}`) of a JSON record schema; objects deeper
    than a few levels, objects without properties and lists of lists are JSON columns."""
    fields = []
    for name, prop in properties(schema).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        prop = merged(prop)
        mode = "NULLABLE"
        kinds = types(prop) - {"null"}
        if "array" in kinds:
            prop, mode, kinds = merged(prop.get("items") or {}), "REPEATED", types(prop.get("items") or {}) - {"null"}
        field: dict[str, Any] = {"name": name, "type": "JSON", "mode": mode}
        if "object" in kinds or (not kinds and "properties" in prop):
            inner = bigquery_fields(prop, depth + 1) if depth < _SCHEMA_DEPTH else []
            if inner:
                field.update(type="RECORD", fields=inner)
        elif len(kinds) == 1 and "array" not in kinds:
            kind = next(iter(kinds))
            field["type"] = _BQ_FORMATS.get(prop.get("format"), _BQ_TYPES.get(kind, "JSON"))
        fields.append(field)
    return fields


def _why(*guesses: Guess) -> str | None:
    reasons = list(dict.fromkeys(guess.why for guess in guesses if guess.why))
    return "guess: " + "; ".join(reasons) if reasons else None


def _bound_params(endpoint: ListEndpoint, shared: TimeFilter | None) -> dict[str, str]:
    """Window templates for an endpoint whose time filter differs from the one the watermark section sends."""
    tf = endpoint.time_filter.value
    if tf is None or tf == shared or endpoint.parent:
        return {}
    params = {tf.start_param: f"{{window_start:{tf.time_format}}}"}
    if tf.end_param:
        params[tf.end_param] = f"{{window_end:{tf.time_format}}}"
    return params


def _endpoint(
    lines: _Lines, endpoint: ListEndpoint, names: dict[str, str], shared: TimeFilter | None, env: str
) -> None:
    lines.key(
        2,
        endpoint.name,
        comment=f"GET {endpoint.path}" + (f" ({endpoint.operation_id})" if endpoint.operation_id else ""),
    )
    path = endpoint.path
    placeholders = []
    if endpoint.parent:
        parent_path, param, field = endpoint.parent
        path = path.replace(f"{{{param}}}", f"{{parent.{field}}}")
        lines.key(3, "parent", names[parent_path], f"`{param}` in the path is the `{field}` of its records")
    for param in endpoint.path_params:
        if f"{{{param}}}" in path:
            variable = f"{env}_{re.sub(r'[^A-Z0-9]+', '_', param.upper())}"
            path = path.replace(f"{{{param}}}", f"${{env:{variable}}}")
            placeholders.append(variable)
    comment = f"set {', '.join(placeholders)} (or write the values here)" if placeholders else None
    lines.key(3, "path", path, comment)
    if endpoint.parent:
        lines.key(3, "include_from_parent", [endpoint.parent[2]])
    params = {**endpoint.sort_params, **endpoint.fields_params, **_bound_params(endpoint, shared)}
    if params:
        comments = ["newest first by update time, for watermark.filter: client"] if endpoint.sort_params else []
        if endpoint.fields_params:
            comments.append(f"guess: the listed fields and `{endpoint.timestamp_field.value}`, which they lack")
        lines.key(3, "params", params, "; ".join(comments) or None)
    lines.key(3, "records_path", endpoint.records_path.value, _why(endpoint.records_path))
    if endpoint.primary_key.value:
        lines.key(3, "primary_key", endpoint.primary_key.value, _why(endpoint.primary_key))
    if endpoint.pagination.value:
        lines.block(3, "pagination", endpoint.pagination.value, _why(endpoint.pagination))
    for key, todo in endpoint.todos.items():
        if key != "timestamp_field":
            lines.key(3, f"TODO_{key}", todo)
    if endpoint.sort_params and shared and not endpoint.parent:
        lines.key(3, "TODO_time_filter", _SORT_ONLY)


def _auth(lines: _Lines, spec: dict[str, Any], env: str) -> None:
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    wanted = [name for requirement in spec.get("security") or [] for name in requirement] or list(schemes)
    order = {"bearer": 0, "apiKey": 1, "oauth2": 2, "basic": 3}

    def rank(name: str) -> int:
        scheme = schemes.get(name) or {}
        kind = scheme.get("scheme", "").lower() if scheme.get("type") == "http" else scheme.get("type", "")
        return order.get(kind, 9)

    chosen = sorted((name for name in wanted if name in schemes), key=rank)
    if not chosen:
        _undeclared_auth(lines, spec, env)
        return
    scheme = schemes[chosen[0]]
    others = f"; the document also allows {', '.join(chosen[1:])}" if len(chosen) > 1 else ""
    kind, comment = scheme.get("type"), f"securitySchemes.{chosen[0]}{others}"
    if kind == "http" and scheme.get("scheme", "").lower() == "bearer":
        auth = _bearer(env)
    elif kind == "http" and scheme.get("scheme", "").lower() == "basic":
        credentials = {"username": f"${{env:{env}_USERNAME}}", "password": f"${{env:{env}_PASSWORD}}"}
        auth = {"auth_type": "basic", "auth_credentials": credentials}
    elif kind == "apiKey" and scheme.get("in") in ("header", "query"):
        credentials = {"key": f"${{env:{env}_API_KEY}}", "name": scheme.get("name"), "location": scheme["in"]}
        auth = {"auth_type": "api_key", "auth_credentials": credentials}
    elif kind == "oauth2":
        flows = scheme.get("flows") or {}
        flow = flows.get("clientCredentials") or flows.get("authorizationCode") or {}
        grant = "client_credentials" if "clientCredentials" in flows else "refresh_token"
        credentials = {
            "token_url": flow.get("tokenUrl") or flow.get("refreshUrl"),
            "client_id": f"${{env:{env}_CLIENT_ID}}",
            "client_secret": f"${{env:{env}_CLIENT_SECRET}}",
            "grant_type": grant,
        }
        if grant == "refresh_token":
            credentials["refresh_token"] = f"${{env:{env}_REFRESH_TOKEN}}"
        auth = {"auth_type": "oauth2", "auth_credentials": credentials}
    else:
        lines.key(1, "auth_config", {"auth_type": "none"}, comment)
        lines.key(1, "TODO_auth_config", f"securitySchemes.{chosen[0]} ({kind}) has no config equivalent here")
        return
    lines.block(1, "auth_config", auth, comment)


def _bearer(env: str) -> dict[str, Any]:
    return {"auth_type": "bearer", "auth_credentials": {"token": f"${{env:{env}_TOKEN}}"}}


def _undeclared_auth(lines: _Lines, spec: dict[str, Any], env: str) -> None:
    found = undeclared_auth(spec)
    if found.bearer:
        lines.block(1, "auth_config", _bearer(env), f"guessed: {found.reason()}; sent as a bearer token")
    elif found.answer_401:
        lines.key(1, "auth_config", {"auth_type": "none"}, found.reason())
        lines.key(1, "TODO_auth_config", f"{found.reason()}: give the API's auth")
    else:
        lines.key(1, "auth_config", {"auth_type": "none"}, "the document declares no securitySchemes")


def _shared_filter(roots: list[ListEndpoint]) -> TimeFilter | None:
    filters = [root.time_filter.value for root in roots if root.time_filter.value]
    return filters[0] if filters else None


def _watermark(lines: _Lines, roots: list[ListEndpoint], shared: TimeFilter | None, today: datetime) -> None:
    lines.key(1, "watermark")
    lines.key(2, "enabled", True)
    stamps = {root.timestamp_field.value for root in roots if root.timestamp_field.value}
    stamp = next((root.timestamp_field for root in roots if root.timestamp_field.value), Guess(None))
    if stamp.value:
        comment = _why(stamp) or (f"the endpoints differ: {', '.join(sorted(stamps))}" if len(stamps) > 1 else None)
        lines.key(2, "timestamp_field", stamp.value, comment)
    todos = [root for root in roots if "timestamp_field" in root.todos]
    if todos or len(stamps) > 1:
        lines.key(2, "TODO_timestamp_field", "set the record field that holds each record's update time")
    if shared:
        why = _why(*(root.time_filter for root in roots if root.time_filter.value == shared))
        lines.key(2, "watermark_field", shared.start_param, why)
        if shared.end_param:
            lines.key(2, "window_end_field", shared.end_param)
        lines.key(2, "time_format", shared.time_format)
    elif roots and all(root.sort_params for root in roots):
        lines.key(2, "filter", "client", "no time filter in the document: newest first, stopped at the window start")
    start = (today - timedelta(days=30)).strftime("%Y-%m-%dT00:00:00Z")
    lines.key(2, "initial_watermark", start, "where the first run starts: 30 days back, change it")
    lines.key(2, "lookback_window", "1h", "late updates: each run reads again this much before the watermark")
    lines.key(2, "window", {"window_size": "24h"})


def render(
    spec: dict[str, Any],
    endpoints: list[ListEndpoint],
    source: str,
    base_url: str,
    api_url: str,
    today: datetime | None = None,
) -> str:
    """The pipeline YAML for `endpoints` of `spec` (parents before their children), to read from `base_url`;
    the API is named (pipeline_id, environment variables) from `api_url`, the document's server."""
    today = today or datetime.now(UTC)
    env = env_prefix(api_url)
    pipeline_id = re.sub(r"[^a-z0-9]+", "_", env.lower()).strip("_") or "api"
    if not pipeline_id[0].isalpha():
        pipeline_id = f"api_{pipeline_id}"
    names = {endpoint.path: endpoint.name for endpoint in endpoints}
    roots = [endpoint for endpoint in endpoints if not endpoint.parent]
    shared = _shared_filter(roots)
    info = spec.get("info") or {}
    lines = _Lines()
    title = f"{info.get('title', 'the document')} {info.get('version', '')}".rstrip()
    lines.add(0, f"# Written by `init --openapi {source}` from {title}")
    lines.add(0, "# Comments say what was guessed and why; a TODO_ key is what was not found: `validate` fails until")
    lines.add(0, "# it is replaced by the setting it names.")
    lines.key(0, "pipeline_id", pipeline_id)
    lines.key(0, "description", f"{info.get('title', pipeline_id)}: {', '.join(names.values())}")
    lines.key(0, "extractor_class", "rest")
    lines.key(0, "api_config")
    url_comment = (
        None if base_url.startswith(("http://", "https://")) else "TODO: the document gives no absolute server URL"
    )
    lines.key(1, "base_url", base_url, url_comment)
    lines.key(1, "headers", {"Accept": "application/json"})
    lines.key(1, "endpoints")
    for endpoint in endpoints:
        _endpoint(lines, endpoint, names, shared, env)
    _auth(lines, spec, env)
    _watermark(lines, roots, shared, today)
    lines.key(0, "output")
    lines.add(1, "- type: local")
    lines.key(2, "config", {"path": f"./output/{pipeline_id}"})
    lines.add(1, "- type: bigquery", "enable it with your dataset (and project) to load BigQuery")
    lines.key(2, "enabled", False)
    lines.key(2, "config")
    lines.key(3, "dataset_id", pipeline_id)
    lines.key(3, "table_id", "{endpoint}")
    if len(endpoints) == 1:
        lines.key(3, "schema", bigquery_fields(endpoints[0].record_schema), "from the record schema of the document")
    else:
        lines.key(3, "schema", "auto", "several endpoints share this output: each table gets its rows' schema")
    return "\n".join(lines.lines) + "\n"
