"""Turns a pydantic ``ValidationError`` into one line per problem: ``<file>: <key.path>: <message>``.

Paths are the keys as written in the file (list indices as numbers, without the tag pydantic inserts for a
discriminated union), and messages are short and never echo the offending value, which may be a secret.
"""

import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from .base import RULE_ERROR_TYPE

_DISCRIMINATORS = ("auth_type", "type")

_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown key",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "union_tag_not_found": "required",
}

_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def validation_problems(error: ValidationError, data: Any, source: str | None = None) -> list[str]:
    """One line per error in ``error``, raised while validating ``data``; ``source`` prefixes each line."""
    prefix = f"{source}: " if source else ""
    return [f"{prefix}{path}: {message}" if path else f"{prefix}{message}" for path, message in _lines(error, data)]


def _lines(error: ValidationError, data: Any) -> Iterator[tuple[str, str]]:
    for details in error.errors(include_url=False, include_input=False):
        path = _without_tags(details["loc"], data)
        kind, ctx = details["type"], details.get("ctx", {})
        if kind == RULE_ERROR_TYPE and ctx["fields"]:
            for field in ctx["fields"]:
                yield ".".join([*path, field]), details["msg"]
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            yield ".".join([*path, ctx["discriminator"].strip("'")]), _message(details)
        else:
            yield ".".join(path), _message(details)


def _without_tags(loc: tuple[int | str, ...], data: Any) -> list[str]:
    """``loc`` as strings, without the union tags pydantic inserts (found by walking ``data`` alongside)."""
    path: list[str] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and any(node.get(key) == part for key in _DISCRIMINATORS):
            node = {key: value for key, value in node.items() if key not in _DISCRIMINATORS}
            continue
        path.append(str(part))
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return path


def _message(details: Any) -> str:
    kind, ctx = details["type"], details.get("ctx", {})
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return f"must be {_BOUNDS[kind]} {f'{bound:g}' if isinstance(bound, float) else bound}"
    if kind == "literal_error":
        return f"must be one of: {_choices(ctx['expected'])}"
    if kind == "union_tag_invalid":
        return f"must be one of: {_choices(ctx['expected_tags'])}"
    if kind == "too_short":
        return "must not be empty" if ctx["min_length"] == 1 else f"needs at least {ctx['min_length']} items"
    if kind == "value_error":
        return str(ctx["error"])
    return details["msg"]


def _choices(expected: str) -> str:
    """``"'a', 'b' or 'c'"`` (pydantic's wording) as ``"a, b, c"``."""
    quoted = re.findall(r"'([^']*)'", expected)
    return ", ".join(quoted) if quoted else expected
