"""BigQuery schemas: read the `schema` setting, and check and encode rows against it (pure functions)."""

from __future__ import annotations

import json
from typing import Any

from beam_api_pipeline.core.errors import OutputError

AUTO = "auto"
#: `schema: infer`: the table is created from the run's inferred schema, and gains the columns of new fields.
INFER = "infer"

_TYPE_ALIASES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
_TYPES = {
    "STRING", "BYTES", "INTEGER", "FLOAT", "NUMERIC", "BIGNUMERIC", "BOOLEAN", "TIMESTAMP", "DATE", "TIME",
    "DATETIME", "GEOGRAPHY", "JSON", "RECORD", "INTERVAL", "RANGE",
}  # fmt: skip
_MODES = {"NULLABLE", "REQUIRED", "REPEATED"}
_FIELD_KEYS = {"name", "type", "mode", "fields", "description"}


def normalize_fields(fields: Any, where: str) -> list[dict[str, Any]]:
    """`fields` as BigQuery's JSON schema (`{name, type, mode[, fields][, description]}`, upper-case names of
    types and modes, aliases resolved); an OutputError names the first bad field by its path under `where`."""
    if not isinstance(fields, list) or not fields:
        raise OutputError(f"{where}: expected a non-empty list of fields")
    normalized = []
    for index, field in enumerate(fields):
        path = f"{where}.{index}"
        if not isinstance(field, dict) or not isinstance(field.get("name"), str) or "type" not in field:
            raise OutputError(f"{path}: expected a field with a name and a type")
        unknown = set(field) - _FIELD_KEYS
        if unknown:
            raise OutputError(f"{path}.{sorted(unknown)[0]}: not a BigQuery field attribute")
        kind = _TYPE_ALIASES.get(str(field["type"]).upper(), str(field["type"]).upper())
        mode = str(field.get("mode", "NULLABLE")).upper()
        if kind not in _TYPES:
            raise OutputError(f"{path}.type: {field['type']!r} is not a BigQuery type")
        if mode not in _MODES:
            raise OutputError(f"{path}.mode: {field['mode']!r} is not one of NULLABLE, REQUIRED, REPEATED")
        entry: dict[str, Any] = {"name": field["name"], "type": kind, "mode": mode}
        if kind == "RECORD":
            entry["fields"] = normalize_fields(field.get("fields"), f"{path}.fields")
        if field.get("description"):
            entry["description"] = field["description"]
        normalized.append(entry)
    return normalized


def load_schema(setting: str | list[dict[str, Any]] | None, where: str) -> list[dict[str, Any]] | str | None:
    """The `schema` setting resolved: None (the table exists), AUTO, INFER, or the normalized fields, read from a
    JSON schema file (a list of fields, or `{"fields": [...]}`; local or gs://) when the setting is a path."""
    if setting is None or setting in (AUTO, INFER):
        return setting
    if isinstance(setting, list):
        return normalize_fields(setting, where)
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(setting) as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as error:
        raise OutputError(f"{where}: cannot read the JSON schema file {setting}: {error}") from None
    if isinstance(document, dict):
        document = document.get("fields")
    return normalize_fields(document, f"{where} ({setting})")


def value_problem(value: Any, kind: str) -> str | None:
    """Why BigQuery would not take the (non-null, non-list) JSON `value` in a column of type `kind`, or None."""
    if kind == "INTEGER":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.strip().lstrip("-").isdigit()
        )
        return None if ok else "expected an INTEGER"
    if kind in ("FLOAT", "NUMERIC", "BIGNUMERIC"):
        if isinstance(value, bool):
            return f"expected a {kind}"
        try:
            float(value)
        except (TypeError, ValueError):
            return f"expected a {kind}"
        return None
    if kind == "BOOLEAN":
        ok = isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
        return None if ok else "expected a BOOLEAN"
    if kind == "RECORD":
        return None if isinstance(value, dict) else "expected a RECORD (an object)"
    if kind in ("STRING", "TIMESTAMP", "DATE", "TIME", "DATETIME", "BYTES", "GEOGRAPHY"):
        return None if isinstance(value, str | int | float) and not isinstance(value, bool) else f"expected a {kind}"
    return None


def row_problems(row: Any, fields: list[dict[str, Any]], prefix: str = "", new_fields_ok: bool = False) -> list[str]:
    """Why BigQuery would reject `row` under `fields` ("user.id: expected an INTEGER, got 'x'"); empty when
    it fits. Checks presence, modes, unknown fields (unless `new_fields_ok`: the table gains their columns) and
    value shapes, not the format of time values."""
    if not isinstance(row, dict):
        return [f"{prefix or 'row'}: expected an object, got {type(row).__name__}"]
    problems = []
    known = {field["name"] for field in fields}
    if not new_fields_ok:
        problems.extend(f"{prefix}{name}: not in the table schema" for name in row if name not in known)
    for field in fields:
        path, value = f"{prefix}{field['name']}", row.get(field["name"])
        if value is None:
            if field["mode"] == "REQUIRED":
                problems.append(f"{path}: required, missing")
            continue
        values = value if field["mode"] == "REPEATED" else [value]
        if field["mode"] == "REPEATED" and not isinstance(value, list):
            problems.append(f"{path}: expected a list (REPEATED), got {value!r}")
            continue
        for item in values:
            problem = value_problem(item, field["type"])
            if problem:
                problems.append(f"{path}: {problem}, got {item!r}")
            elif field["type"] == "RECORD":
                problems.extend(row_problems(item, field["fields"], f"{path}.", new_fields_ok))
    return problems


def _encode_item(item: Any, field: dict[str, Any]) -> Any:
    if field["type"] == "JSON":
        return item if isinstance(item, str) else json.dumps(item, separators=(",", ":"), default=str)
    if field["type"] == "RECORD" and isinstance(item, dict):
        return encode_json_columns(item, field["fields"])
    return item


def encode_json_columns(row: dict[str, Any], fields: list[dict[str, Any]]) -> dict[str, Any]:
    """`row` with the values of JSON columns (at any depth) as JSON text, as streaming inserts expect them;
    a string is taken to be JSON text already."""
    encoded = dict(row)
    for field in fields:
        value = encoded.get(field["name"])
        if value is None or field["type"] not in ("JSON", "RECORD"):
            continue
        if field["mode"] == "REPEATED" and isinstance(value, list):
            encoded[field["name"]] = [_encode_item(item, field) for item in value]
        else:
            encoded[field["name"]] = _encode_item(value, field)
    return encoded
