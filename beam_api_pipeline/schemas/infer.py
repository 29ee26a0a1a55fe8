"""BigQuery schemas inferred from JSON rows, merged by widening types, compared and described (pure functions).

Fields are BigQuery JSON schema fields as `normalize_fields` gives them: `{"name", "type", "mode"[, "fields"]}`.
Merging is commutative (up to field order) and associative, so it can merge the accumulators of a CombineFn.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

Fields = list[dict[str, Any]]

#: While inferring, the type of a field seen only as null or as empty lists: it widens to any type.
_UNKNOWN = "UNKNOWN"
#: The next wider type of each type; a type not named here widens to STRING, and JSON is the widest.
_WIDER_TYPE = {"INTEGER": "FLOAT", "STRING": "JSON", "RECORD": "JSON", "JSON": None}


def json_type(value: Any, is_timestamp: bool = False) -> str:
    """The BigQuery type of one JSON value that is neither null nor a list: RECORD for an object, TIMESTAMP for a
    string or number when `is_timestamp`, else BOOLEAN, INTEGER, FLOAT or STRING (also for non-JSON values)."""
    return "RECORD" if isinstance(value, dict) else _scalar_type(type(value), is_timestamp)


def _scalar_type(python_type: type, is_timestamp: bool) -> str:
    if issubclass(python_type, bool):
        return "BOOLEAN"
    if is_timestamp and issubclass(python_type, str | int | float):
        return "TIMESTAMP"
    if issubclass(python_type, int):
        return "INTEGER"
    return "FLOAT" if issubclass(python_type, float) else "STRING"


def infer_fields(rows: Iterable[Any], timestamp_columns: frozenset[str] = frozenset()) -> Fields:
    """BigQuery fields for `rows` (dicts; non-dict rows are ignored), in the order names are first seen.

    Modes are NULLABLE or REPEATED (a list); a column whose dotted path is in `timestamp_columns` is a TIMESTAMP.
    Rows that disagree are reconciled as `merge_fields` does. A column seen only as null is a STRING, one seen
    only as empty lists a REPEATED STRING, and one seen only as empty objects JSON (`settled_fields`)."""
    return settled_fields(observed_fields(rows, timestamp_columns))


def observed_fields(rows: Iterable[Any], timestamp_columns: frozenset[str] = frozenset()) -> Fields:
    """`infer_fields` before it settles the columns seen only as null or empty: merged (`merge_fields`) with
    what other rows show, such a column takes their type. Infer batches of rows with this, merge them, and settle
    the result once."""
    return _columns_fields([row for row in rows if isinstance(row, dict)], timestamp_columns, "")


def settled_fields(fields: Fields) -> Fields:
    """`fields` as BigQuery takes them: a type never seen is STRING, a RECORD without fields is JSON."""
    return [_settled(field) for field in fields]


def merge_fields(base: Fields, other: Fields) -> Fields:
    """The union of two schemas, as new lists and dicts: `base`'s fields in their order, then those only in `other`.

    A field in both takes the wider type (INTEGER and FLOAT: FLOAT; two other scalar types: STRING; a RECORD and
    a scalar, or REPEATED and not: JSON NULLABLE); RECORDs merge their fields. REQUIRED stays only when both
    fields are REQUIRED; a field missing from one schema keeps its mode."""
    others = {field["name"]: field for field in other}
    names = {field["name"] for field in base}
    merged = [_merge_field(field, others[field["name"]]) if field["name"] in others else field for field in base]
    return copy.deepcopy(merged + [field for field in other if field["name"] not in names])


def merge_all(schemas: Iterable[Fields]) -> Fields:
    """`merge_fields` of all `schemas` (a CombineFn's body: the schemas of a run's batches of rows)."""
    return reduce(merge_fields, schemas, [])


def extended_fields(recorded: Fields, observed: Fields) -> Fields:
    """`recorded` with the columns `observed` (as `observed_fields` gives them) adds, at any depth, as new lists
    and dicts. A recorded column keeps its type and mode: the rows were held to it (`schema_contract`), so a value
    it takes as it is (digits as text in an INTEGER column) does not widen it. A new column is appended as
    BigQuery takes it; one never seen with a value (only nulls or empty lists) is left out until one comes."""
    seen = {field["name"]: field for field in observed}
    names = {field["name"] for field in recorded}
    kept = [_extended(field, seen.get(field["name"])) for field in recorded]
    added = [field for field in observed if field["name"] not in names and _has_values(field)]
    return copy.deepcopy(kept) + [_settled(_valued(field)) for field in added]


def _extended(recorded: dict[str, Any], observed: dict[str, Any] | None) -> dict[str, Any]:
    if observed is None or recorded["type"] != "RECORD" or observed["type"] != "RECORD":
        return recorded
    return {**recorded, "fields": extended_fields(recorded["fields"], observed["fields"])}


def _has_values(field: dict[str, Any]) -> bool:
    return field["type"] != _UNKNOWN


def _valued(field: dict[str, Any]) -> dict[str, Any]:
    """`field` without the sub-fields never seen with a value."""
    if field["type"] != "RECORD":
        return field
    inner = [_valued(sub) for sub in field["fields"] if _has_values(sub)]
    return {**field, "fields": inner}


def schema_changes(before: Fields | None, after: Fields) -> list[str]:
    """What changed from `before` to `after`, one line per change, in `after`'s field order, then fields that are
    missing from `after` ("added user.email STRING", "b: INTEGER → STRING", "x: REQUIRED → NULLABLE",
    "missing b"); a single "new schema: ..." line when there was none before, and no line when nothing changed."""
    if before is None:
        return [f"new schema: {describe_fields(after)}"]
    return _changes(before, after, "")


def describe_fields(fields: Fields) -> str:
    """One line: 'id INTEGER, title STRING, user RECORD<login STRING, id INTEGER>, tags STRING REPEATED'."""
    return ", ".join(_describe_field(field) for field in fields)


@dataclass
class _Seen:
    """What one column held: the Python types of its scalar values, its objects, its lists, and whether a null."""

    scalar_types: set[type] = field(default_factory=set)
    objects: list[dict[str, Any]] = field(default_factory=list)
    lists: list[list[Any]] = field(default_factory=list)
    null: bool = False

    def add(self, python_type: type, values: Iterable[Any]) -> None:
        """Values of one Python type."""
        if issubclass(python_type, dict):
            self.objects.extend(values)
        elif issubclass(python_type, list):
            self.lists.extend(values)
        elif python_type is type(None):
            self.null = True
        else:
            self.scalar_types.add(python_type)


def _columns_fields(objects: list[dict[str, Any]], timestamp_columns: frozenset[str], prefix: str) -> Fields:
    """The fields of the columns of `objects`. Objects are grouped by shape (their keys, and the Python types of
    their values: a batch of API records has few), so that values are looked at one by one only in objects and
    lists."""
    shapes: dict[tuple[tuple[str, ...], tuple[type, ...]], list[dict[str, Any]]] = {}
    for item in objects:
        shapes.setdefault((tuple(item), tuple(map(type, item.values()))), []).append(item)
    columns: dict[str, _Seen] = {}
    for (names, types), items in shapes.items():
        for name, python_type in zip(names, types, strict=True):
            columns.setdefault(name, _Seen()).add(python_type, (item[name] for item in items))
    return [
        _column_field(name, seen, f"{prefix}{name}", timestamp_columns, "NULLABLE") for name, seen in columns.items()
    ]


def _column_field(name: str, seen: _Seen, path: str, timestamp_columns: frozenset[str], mode: str) -> dict[str, Any]:
    """One column's field (`mode` NULLABLE, or REPEATED for the items of its lists): a field per kind of value
    seen, merged."""
    is_timestamp = path in timestamp_columns
    kinds = sorted({_scalar_type(python_type, is_timestamp) for python_type in seen.scalar_types})
    fields = [{"name": name, "type": kind, "mode": mode} for kind in kinds]
    if seen.objects:
        inner = _columns_fields(seen.objects, timestamp_columns, f"{path}.")
        fields.append({"name": name, "type": "RECORD", "mode": mode, "fields": inner})
    if seen.lists:
        nested = mode == "REPEATED"  # a list in a list: BigQuery has no nested arrays
        fields.append(_json_field({"name": name}) if nested else _list_field(name, seen.lists, path, timestamp_columns))
    if seen.null or not fields:
        fields.append({"name": name, "type": _UNKNOWN, "mode": mode})
    return reduce(_merge_field, fields)


def _list_field(name: str, lists: list[list[Any]], path: str, timestamp_columns: frozenset[str]) -> dict[str, Any]:
    """A REPEATED field of the merged type of the items of `lists`; JSON when an item is a list."""
    items = _Seen()
    for values in lists:
        for item in values:
            items.add(type(item), (item,))
    return _column_field(name, items, path, timestamp_columns, "REPEATED")


def _merge_field(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    if _is_null(other) or _is_null(base):
        return _relaxed(base if _is_null(other) else other)
    if (base["mode"] == "REPEATED") != (other["mode"] == "REPEATED"):
        return _json_field(base)
    kind = _wider_type(base["type"], other["type"])
    if kind == "JSON" and {base["type"], other["type"]} - {"JSON", _UNKNOWN}:
        return _json_field(base)
    merged = {"name": base["name"], "type": kind, "mode": _merged_mode(base["mode"], other["mode"])}
    if kind == "RECORD":
        merged["fields"] = merge_fields(base.get("fields", []), other.get("fields", []))
    return _with_description(merged, base, other)


def _is_null(field: dict[str, Any]) -> bool:
    """Whether `field` is a null seen while inferring, which tells nothing but that the column is nullable."""
    return field["type"] == _UNKNOWN and field["mode"] != "REPEATED"


def _relaxed(field: dict[str, Any]) -> dict[str, Any]:
    return {**field, "mode": "NULLABLE"} if field["mode"] == "REQUIRED" else field


def _wider_type(kind: str, other: str) -> str:
    """The narrowest type both widen to: the first type widening `other` reaches that widening `kind` reaches."""
    if _UNKNOWN in (kind, other):
        return other if kind == _UNKNOWN else kind
    reached = _widenings(kind)
    return next(wider for wider in _widenings(other) if wider in reached)


def _widenings(kind: str) -> list[str]:
    """`kind` and the types it widens to, narrowest first, ending with JSON."""
    chain = [kind]
    while (wider := _WIDER_TYPE.get(chain[-1], "STRING")) is not None:
        chain.append(wider)
    return chain


def _merged_mode(mode: str, other: str) -> str:
    return mode if mode == other else "NULLABLE"


def _json_field(field: dict[str, Any]) -> dict[str, Any]:
    return _with_description({"name": field["name"], "type": "JSON", "mode": "NULLABLE"}, field, {})


def _with_description(merged: dict[str, Any], base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    description = base.get("description") or other.get("description")
    return {**merged, "description": description} if description else merged


def _settled(field: dict[str, Any]) -> dict[str, Any]:
    """An inferred field as BigQuery takes it: a type never seen is STRING, a RECORD without fields is JSON."""
    if field["type"] == _UNKNOWN:
        return {**field, "type": "STRING"}
    if field["type"] == "RECORD" and not field["fields"]:
        return _json_field(field)
    if field["type"] == "RECORD":
        return {**field, "fields": [_settled(inner) for inner in field["fields"]]}
    return field


def _changes(before: Fields, after: Fields, prefix: str) -> list[str]:
    earlier = {field["name"]: field for field in before}
    names = {field["name"] for field in after}
    lines = [line for field in after for line in _field_changes(earlier.get(field["name"]), field, prefix)]
    return lines + [f"missing {prefix}{field['name']}" for field in before if field["name"] not in names]


def _field_changes(old: dict[str, Any] | None, new: dict[str, Any], prefix: str) -> list[str]:
    if old is None:
        return [f"added {prefix}{_describe_field(new)}"]
    path = f"{prefix}{new['name']}"
    lines = [f"{path}: {old[key]} → {new[key]}" for key in ("type", "mode") if old[key] != new[key]]
    if old["type"] == new["type"] == "RECORD":
        lines.extend(_changes(old["fields"], new["fields"], f"{path}."))
    return lines


def _describe_field(field: dict[str, Any]) -> str:
    kind = field["type"]
    if kind == "RECORD":
        kind += f"<{describe_fields(field['fields'])}>"
    mode = "" if field["mode"] == "NULLABLE" else f" {field['mode']}"
    return f"{field['name']} {kind}{mode}"
