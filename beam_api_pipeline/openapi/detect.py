"""What a list endpoint of an OpenAPI document says about reading it incrementally, from the document alone.

`list_endpoints` finds the GET operations whose 2xx answer holds an array of records and, for each, detects
the records path, pagination, page-size cap, time filter, timestamp field, primary key, parent and the record
schema. Each detected value carries a `Guess`: `why` is None when the document states it, else the reason a
YAML comment gives; a value that could not be found is None with a `todo` saying what to fill.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_METHOD = "get"
#: Object properties that usually hold the records, best first.
_RECORD_KEYS = ("data", "items", "results", "records", "entries", "values", "nodes", "list", "objects", "elements")
_SIZE_PARAMS = ("per_page", "page_size", "pagesize", "limit", "size", "count", "max_results", "maxresults", "top")
_PAGE_PARAMS = ("page", "page_number", "pagenumber", "page_num")
_CURSOR_PARAMS = (
    "cursor", "after", "starting_after", "page_token", "pagetoken", "next_token", "continuation", "next",
    "page_after", "offset",
)  # fmt: skip
_NEXT_URL_KEYS = ("next", "next_url", "next_page_url", "nextlink", "@odata.nextlink", "next_link")
_NEXT_CURSOR_KEYS = ("next_cursor", "nextcursor", "next_page_token", "nextpagetoken", "cursor", "next_token", "offset")
_HAS_MORE_KEYS = ("has_more", "hasmore", "has_next", "hasnext", "more")
_TOTAL_KEYS = ("total", "total_count", "totalcount", "total_results", "count")
#: Start-bound parameter names, and the record-field stem each one filters by (None: any update time).
_START_PARAMS = {
    "since": None, "updated_since": "updated", "updated_after": "updated", "modified_since": "modified",
    "modified_after": "modified", "changed_since": "changed", "start_time": None, "start_date": None,
    "from": None, "created_after": "created", "created_since": "created", "updated_at_min": "updated",
    "min_updated_at": "updated", "updated_min": "updated", "after_time": None, "start": None,
}  # fmt: skip
_END_PARAMS = (
    "until", "end_time", "end_date", "to", "before", "updated_before", "modified_before", "created_before",
    "updated_at_max", "max_updated_at", "updated_max", "end",
)  # fmt: skip
_RANGE_STARTS = ("gte", "gt", "from", "min", "after")
_RANGE_ENDS = ("lt", "lte", "to", "max", "before")
_TIME_STEMS = ("updated", "modified", "changed", "created")
#: Words of a nested time's path that make it the record's last change (a sub-object's own creation time is not).
_UPDATE_WORDS = ("updated", "modified", "changed", "committed", "committer")
#: Query parameters that choose the fields of the records an answer holds.
_FIELDS_PARAMS = ("opt_fields", "fields", "$select", "select")
_MAX_IN_TEXT = re.compile(r"(?:max(?:imum)?(?: of| is|:)?\s*|between \d+ and |up to |1-|1 to )(\d{2,5})", re.I)


@dataclass(frozen=True)
class Guess:
    """A detected value; `why` is the reason when the document does not state it outright."""

    value: Any
    why: str | None = None


@dataclass(frozen=True)
class TimeFilter:
    """The window bounds' parameters and their format."""

    start_param: str
    end_param: str | None
    time_format: str


@dataclass
class ListEndpoint:
    """One list endpoint as detected. `pagination` is the `pagination` config section (without defaults)."""

    name: str
    path: str
    operation_id: str
    path_params: list[str]
    records_path: Guess
    pagination: Guess
    time_filter: Guess
    timestamp_field: Guess
    primary_key: Guess
    record_schema: dict[str, Any]
    parent: tuple[str, str, str] | None = None  # (parent endpoint's path, path parameter, parent record field)
    sort_params: dict[str, str] = field(default_factory=dict)  # a newest-first sort by update time
    fields_param: tuple[str, bool] | None = None  # a parameter choosing the fields (name, values comma-joined)
    fields_params: dict[str, Any] = field(default_factory=dict)  # that parameter asking for the timestamp field
    time_stem: str | None = None  # the record-field stem the time filter filters by (None: any update time)
    todos: dict[str, str] = field(default_factory=dict)


def _json_schema(response: dict[str, Any]) -> dict[str, Any] | None:
    content = response.get("content") or {}
    for media, body in content.items():
        if "json" in media and isinstance(body, dict) and isinstance(body.get("schema"), dict):
            return body["schema"]
    return None


def merged(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `allOf` parts' properties merged, and the first object of an `anyOf`/`oneOf`."""
    if "allOf" in schema:
        whole: dict[str, Any] = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            whole["properties"].update(merged(part).get("properties") or {})
        return whole
    for key in ("anyOf", "oneOf"):
        if key in schema:
            for option in schema[key]:
                option = merged(option)
                if option.get("type") in ("object", "array") or "properties" in option:
                    return option
    return schema


def types(schema: dict[str, Any]) -> set[str]:
    kind = merged(schema).get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def _records(schema: dict[str, Any]) -> tuple[str, dict[str, Any], str | None] | None:
    """(records_path, record schema, why) of a 2xx schema holding an array of records, or None."""
    schema = merged(schema)
    if "array" in types(schema):
        return "", merged(schema.get("items") or {}), None
    arrays = {
        name: merged(prop.get("items") or {})
        for name, prop in (schema.get("properties") or {}).items()
        if "array" in types(prop) and "object" in types(prop.get("items") or {})
    }
    if not arrays:
        return None
    if len(arrays) == 1:
        (name, items) = next(iter(arrays.items()))
        return name, items, None
    for key in _RECORD_KEYS:
        if key in arrays:
            return key, arrays[key], f"of the arrays {', '.join(sorted(arrays))}, `{key}` is named like records"
    name = sorted(arrays)[0]
    return name, arrays[name], f"several arrays ({', '.join(sorted(arrays))}); took the first"


def properties(schema: dict[str, Any]) -> dict[str, Any]:
    return merged(schema).get("properties") or {}


def _find(fields: dict[str, Any], names: tuple[str, ...], kinds: set[str], depth: int = 2) -> str | None:
    """The dotted path of the first property named in `names` (case-insensitive) of a type in `kinds`,
    at the top level first, then one object down."""
    lowered = {name.lower(): name for name in fields}
    for wanted in names:
        if wanted in lowered and types(fields[lowered[wanted]]) & kinds:
            return lowered[wanted]
    if depth > 1:
        for name, prop in fields.items():
            inner = _find(properties(prop), names, kinds, depth - 1) if "object" in types(prop) else None
            if inner:
                return f"{name}.{inner}"
    return None


def _page_size(param: dict[str, Any]) -> Guess:
    schema = param.get("schema") or {}
    if isinstance(schema.get("maximum"), int):
        return Guess(schema["maximum"])
    match = _MAX_IN_TEXT.search(param.get("description") or "")
    if match:
        return Guess(int(match[1]), f"the largest page size, from the description of `{param['name']}`")
    if isinstance(schema.get("default"), int):
        return Guess(schema["default"], f"`{param['name']}` states no maximum: its default; raise it if allowed")
    return Guess(100, f"`{param['name']}` states no maximum: 100 is a common cap")


def _pagination(query: dict[str, dict[str, Any]], body: dict[str, Any], headers: set[str]) -> tuple[Guess, str | None]:
    """The pagination section and a TODO when no style is recognised."""
    lowered = {name.lower(): name for name in query}
    size_name = next((lowered[n] for n in _SIZE_PARAMS if n in lowered), None)
    section: dict[str, Any] = {}
    why: list[str] = []
    todo = None
    size = _page_size(query[size_name]) if size_name else None
    has_more = _find(body, _HAS_MORE_KEYS, {"boolean"})
    next_url = _find(body, _NEXT_URL_KEYS, {"string"})
    cursor_param = next((lowered[n] for n in _CURSOR_PARAMS if n in lowered), None)
    if cursor_param and "integer" in types(query[cursor_param].get("schema") or {}):
        cursor_param = None  # an integer `offset` is offset paging
    page_param = next((lowered[n] for n in _PAGE_PARAMS if n in lowered), None)
    if "link" in headers:
        section = {"strategy": "link_header"}
    elif next_url and not cursor_param:
        section = {"strategy": "next_url", "next_url_path": next_url}
    elif cursor_param:
        section = {"strategy": "cursor", "cursor_param": cursor_param}
        if cursor_param.lower() == "starting_after":
            section["cursor_path"] = "-1.id"  # completed with the records path by the caller
        else:
            cursor_path = _find(body, (*_NEXT_CURSOR_KEYS, cursor_param.lower()), {"string", "integer"}, depth=3)
            if cursor_path:
                section["cursor_path"] = cursor_path
                if "." not in cursor_path and cursor_path.lower() not in _NEXT_CURSOR_KEYS:
                    why.append(f"`{cursor_path}` read as the next cursor")
            else:
                todo = f"where the next `{cursor_param}` is in the answer: set pagination.cursor_path"
    elif page_param:
        section = {"strategy": "page_number", "page_param": page_param}
    elif "offset" in lowered:
        section = {"strategy": "offset", "offset_param": lowered["offset"]}
    else:
        return Guess(None), "no pagination parameter or next link found: set pagination, or pagination.enabled: false"
    if size_name:
        key = {"page_number": "size_param", "link_header": "size_param"}.get(section["strategy"], "limit_param")
        section[key] = size_name
        section["page_size"] = size.value
        if size.why:
            why.append(size.why)
    if has_more and section["strategy"] != "link_header":
        section["has_more_path"] = has_more
    if section["strategy"] in ("page_number", "offset"):
        total = _find(body, _TOTAL_KEYS, {"integer"}, depth=1)
        if total:
            section["total_path"] = total
    return Guess(section, "; ".join(why) or None), todo


def _time_format(schema: dict[str, Any]) -> tuple[str, str | None]:
    schema = merged(schema)
    kinds = types(schema)
    if schema.get("format") == "date-time":
        return "iso8601", None
    if schema.get("format") == "date":
        return "date", None
    if kinds & {"integer", "number"}:
        if schema.get("format") in ("unix-time", "timestamp"):
            return "epoch", None
        return "epoch", "an integer time: read as epoch seconds"
    return "iso8601", "a string time without a format: ISO 8601 assumed"


def _range_param(param: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(start key, end key, bound schema) of a `created[gte]`-style range parameter (deepObject style)."""
    schema = param.get("schema") or {}
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    for option in options:
        props = (option or {}).get("properties") or {}
        start = next((key for key in _RANGE_STARTS if key in props), None)
        end = next((key for key in _RANGE_ENDS if key in props), None)
        if start:
            return start, end, props[start]
    return None


def _time_filter(query: dict[str, dict[str, Any]]) -> tuple[Guess, str | None]:
    """The time filter and the record-field stem it filters by (None: an update time)."""
    lowered = {name.lower(): name for name in query}
    for wanted, stem in _START_PARAMS.items():
        if wanted in lowered:
            name = lowered[wanted]
            time_format, why = _time_format(query[name].get("schema") or {})
            end = next((lowered[e] for e in _END_PARAMS if e in lowered), None)
            return Guess(TimeFilter(name, end, time_format), why), stem
    for name, param in query.items():
        ranged = _range_param(param)
        stem = next((s for s in _TIME_STEMS if s in name.lower()), None)
        if ranged and (stem or name.lower() in ("timestamp", "time", "date")):
            start, end, bound = ranged
            time_format, why = _time_format(bound)
            end_param = f"{name}[{end}]" if end else None
            return Guess(TimeFilter(f"{name}[{start}]", end_param, time_format), why), stem or name
    return Guess(None), None


def _update_path(record: dict[str, Any]) -> str | None:
    """The dotted path of a nested date-time whose path names a last change, at most two objects down."""
    found = []

    def walk(schema: dict[str, Any], prefix: list[str]) -> None:
        for name, prop in properties(schema).items():
            if "object" in types(prop) and len(prefix) < 2:
                walk(prop, [*prefix, name])
            elif prefix and merged(prop).get("format") == "date-time":
                found.append([*prefix, name])

    walk(record, [])
    for path in found:
        words = {word for part in path for word in re.split(r"[^a-z]+", part.lower())}
        if words & set(_UPDATE_WORDS):
            return ".".join(path)
    return None


def _range_in_words(query: dict[str, dict[str, Any]]) -> str | None:
    """A time parameter (`created`, a date or date-time) whose description says it takes a range, or None."""
    for name, param in query.items():
        schema = merged(param.get("schema") or {})
        timed = schema.get("format") in ("date-time", "date") and name.lower() in _TIME_STEMS
        if timed and re.search(r"\brange\b", param.get("description") or "", re.I):
            return name
    return None


def _timestamp(record: dict[str, Any], stem: str | None) -> Guess:
    """The record field the time filter filters by: the one named by its stem, else updated over created; else,
    when the record has no date-time of its own, a nested date-time whose path names a last change (a nested
    creation time is a sub-object's, not the record's)."""
    names = list(properties(record))
    stems = (stem,) if stem else _TIME_STEMS
    for wanted in stems:
        for suffix in ("_at", "_time", "_date", "at", "", "_on"):
            for name in names:
                if name.lower() == f"{wanted}{suffix}":
                    certain = stem is not None or wanted == "updated"
                    why = None if certain else f"no update time in the record: `{name}` is the newest time it has"
                    return Guess(name, why)
    if stem and stem in names:
        return Guess(stem)
    own_times = [name for name, prop in properties(record).items() if merged(prop).get("format") == "date-time"]
    nested = _update_path(record) if stem is None and not own_times else None
    if nested:
        return Guess(nested, f"no time at the top of the record: `{nested}` is the nested time named for a change")
    return Guess(None)


def _primary_key(record: dict[str, Any]) -> Guess:
    fields = properties(record)
    if "id" in fields:
        return Guess("id")
    for name in ("gid", "uuid", "key", "sha", "node_id"):
        if name in fields:
            return Guess(name, f"no `id` in the record: `{name}` looks like its key")
    return Guess(None)


def _newest_first(query: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Query parameters that sort by update time, newest first (for `filter: client`), or {}."""
    lowered = {name.lower(): name for name in query}
    sort = next((lowered[n] for n in ("sort", "sort_by", "order_by", "orderby") if n in lowered), None)
    values = (query[sort].get("schema") or {}).get("enum") or [] if sort else []
    by = next((value for value in values if str(value).lower() in ("updated", "updated_at", "modified")), None)
    if by is None:
        return {}
    direction = next((lowered[n] for n in ("direction", "order", "sort_order") if n in lowered), None)
    if direction and "desc" in ((query[direction].get("schema") or {}).get("enum") or []):
        return {sort: by, direction: "desc"}
    return {}


def _fields_param(query: dict[str, dict[str, Any]]) -> tuple[str, bool] | None:
    """(name, whether its values are joined by commas) of a query parameter choosing the records' fields."""
    lowered = {name.lower(): name for name in query}
    name = next((lowered[n] for n in _FIELDS_PARAMS if n in lowered), None)
    if name is None:
        return None
    param = query[name]
    return name, "array" not in types(param.get("schema") or {}) or param.get("explode") is False


def _single_record(spec: dict[str, Any], path: str) -> tuple[str, dict[str, Any]] | None:
    """(path, record schema) of the GET of one record of the list at `path` (`path/{key}`): the answer's own
    object, or its object property named like records (`data`) in a small envelope."""
    pattern = re.compile(rf"{re.escape(path.rstrip('/'))}/\{{[^}}/]+\}}")
    for other, item in path_items(spec):
        operation = item.get(_METHOD) if pattern.fullmatch(other) else None
        responses = (operation or {}).get("responses") or {}
        code = next((code for code in sorted(responses, key=str) if str(code).startswith("2")), None)
        schema = _json_schema(responses[code]) if code else None
        if schema is None or "object" not in types(schema):
            continue
        fields = properties(schema)
        wrapper = next((key for key in _RECORD_KEYS if key in fields and "object" in types(fields[key])), None)
        return other, merged(fields[wrapper]) if wrapper and len(fields) <= 3 else merged(schema)
    return None


def _ask_for_timestamps(spec: dict[str, Any], endpoints: list[ListEndpoint]) -> None:
    """For a list endpoint whose records lack the time field but which takes a fields parameter: the field of
    its one-record answer (`GET path/{key}`) that the time filter names, asked for with that parameter."""
    for endpoint in endpoints:
        if endpoint.timestamp_field.value or endpoint.fields_param is None:
            continue
        single = _single_record(spec, endpoint.path)
        stamp = _timestamp(single[1], endpoint.time_stem) if single else Guess(None)
        if single is None or stamp.value is None or "." in stamp.value:
            continue
        single_path, full = single
        name, joined = endpoint.fields_param
        fields = [*properties(endpoint.record_schema), stamp.value]
        endpoint.fields_params = {name: ",".join(fields) if joined else fields}
        record = properties(endpoint.record_schema)
        endpoint.record_schema = {
            "type": "object",
            "properties": {**record, stamp.value: properties(full)[stamp.value]},
        }
        endpoint.timestamp_field = Guess(
            stamp.value, f"the listed records lack it; the record of GET {single_path} has it: asked for in `{name}`"
        )
        endpoint.todos.pop("timestamp_field", None)


def _name(path: str) -> str:
    literals = [part for part in path.strip("/").split("/") if part and not part.startswith("{")]
    last = literals[-1] if literals else "records"
    return re.sub(r"[^a-z0-9]+", "_", last.lower()).strip("_") or "records"


def _operation_endpoint(path: str, operation: dict[str, Any]) -> ListEndpoint | None:
    responses = operation.get("responses") or {}
    code = next((code for code in sorted(responses, key=str) if str(code).startswith("2")), None)
    if code is None:
        return None
    response = responses[code]
    schema = _json_schema(response)
    found = _records(schema) if schema else None
    if found is None:
        return None
    records_path, record, records_why = found
    params = [p for p in operation.get("parameters") or [] if isinstance(p, dict)]
    query = {p["name"]: p for p in params if p.get("in") == "query"}
    headers = {name.lower() for name in response.get("headers") or {}}
    body = properties(schema) if "object" in types(schema) else {}
    pagination, paging_todo = _pagination(query, body, headers)
    if pagination.value and pagination.value.get("cursor_path") == "-1.id":
        prefix = f"{records_path}." if records_path else ""
        pagination = Guess({**pagination.value, "cursor_path": f"{prefix}-1.id"}, pagination.why)
    time_filter, stem = _time_filter(query)
    timestamp = _timestamp(record, stem)
    primary_key = _primary_key(record)
    sort_params = _newest_first(query) if time_filter.value is None else {}
    todos = {}
    if paging_todo:
        todos["pagination"] = paging_todo
    if time_filter.value is None and not sort_params:
        ranged = _range_in_words(query)
        todos["time_filter"] = (
            f"`{ranged}` takes a time range in a syntax the document does not give: write the window into "
            f"params.{ranged} in that syntax, as a template of {{window_start:FORMAT}} and {{window_end:FORMAT}}"
            if ranged
            else "the document shows no time filter parameter: set watermark.watermark_field (or a window template "
            "in params), or watermark.filter: client with a newest-first sort"
        )
    if timestamp.value is None:
        todos["timestamp_field"] = "no time field found in the record schema: set watermark.timestamp_field"
    if primary_key.value is None:
        todos["primary_key"] = "no `id` in the record schema: set primary_key"
    path_params = [p["name"] for p in params if p.get("in") == "path"] or re.findall(r"\{([^}]+)\}", path)
    return ListEndpoint(
        name=_name(path),
        path=path,
        operation_id=str(operation.get("operationId") or ""),
        path_params=path_params,
        records_path=Guess(records_path, records_why),
        pagination=pagination,
        time_filter=time_filter,
        timestamp_field=timestamp,
        primary_key=primary_key,
        record_schema=record,
        sort_params=sort_params,
        fields_param=_fields_param(query),
        time_stem=stem,
        todos=todos,
    )


def _parent_field(path_param: str, parent: ListEndpoint) -> str | None:
    """The field of the parent's records a child's path parameter takes: its own name, without the parent's
    singular name (`issue_number` → `number`), or `id`."""
    fields = properties(parent.record_schema)
    last = _name(parent.path)
    singular = last[:-1] if last.endswith("s") else last
    for candidate in (path_param, re.sub(rf"^{re.escape(singular)}_?", "", path_param), "id"):
        if candidate in fields:
            return candidate
    return None


def _link_parents(endpoints: list[ListEndpoint]) -> None:
    by_path = {endpoint.path: endpoint for endpoint in endpoints}
    for endpoint in endpoints:
        match = None
        for found in re.finditer(r"/\{([^}]+)\}", endpoint.path):
            prefix = endpoint.path[: found.start()]
            if prefix in by_path and found.end() < len(endpoint.path):
                match = (by_path[prefix], found[1])
        if match:
            parent, param = match
            parent_field = _parent_field(param, parent)
            if parent_field:
                endpoint.parent = (parent.path, param, parent_field)
                endpoint.todos.pop("time_filter", None)  # a child reads all of each changed parent's records


def name_uniquely(endpoints: list[ListEndpoint]) -> None:
    """Name each endpoint by its path's last word, or its last two when another endpoint shares it."""
    for endpoint in endpoints:
        endpoint.name = _name(endpoint.path)
    seen: dict[str, int] = {}
    for endpoint in endpoints:
        seen[endpoint.name] = seen.get(endpoint.name, 0) + 1
    for endpoint in endpoints:
        if seen[endpoint.name] > 1:
            literals = [p for p in endpoint.path.strip("/").split("/") if p and not p.startswith("{")]
            endpoint.name = re.sub(r"[^a-z0-9]+", "_", "_".join(literals[-2:]).lower()).strip("_")
    taken: dict[str, int] = {}
    for endpoint in endpoints:  # still shared: the whole path, parameters too
        taken[endpoint.name] = taken.get(endpoint.name, 0) + 1
    for endpoint in endpoints:
        if taken[endpoint.name] > 1:
            endpoint.name = re.sub(r"[^a-z0-9]+", "_", endpoint.path.lower()).strip("_")


def path_items(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, path item) of `spec`'s paths; an `x-` extension or an empty item under `paths` is not a path."""
    for path, item in (spec.get("paths") or {}).items():
        if isinstance(item, dict) and not str(path).startswith("x-"):
            yield path, item


def list_endpoints(spec: dict[str, Any]) -> list[ListEndpoint]:
    """Every list endpoint of `spec`, in the document's order, with parents linked and names unique."""
    endpoints = []
    for path, item in path_items(spec):
        operation = item.get(_METHOD)
        if isinstance(operation, dict) and not path.rstrip("/").endswith("}"):  # not one record by its key
            shared = [p for p in item.get("parameters") or [] if isinstance(p, dict)]
            if shared:
                names = {(p.get("name"), p.get("in")) for p in operation.get("parameters") or []}
                extra = [p for p in shared if (p.get("name"), p.get("in")) not in names]
                operation = {**operation, "parameters": [*(operation.get("parameters") or []), *extra]}
            endpoint = _operation_endpoint(path, operation)
            if endpoint:
                endpoints.append(endpoint)
    _ask_for_timestamps(spec, endpoints)
    name_uniquely(endpoints)
    _link_parents(endpoints)
    return endpoints
