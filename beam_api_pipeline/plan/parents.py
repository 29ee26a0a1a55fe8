"""Dependent endpoints: which endpoint is whose parent, the parent record a child task is made for, and that
record's fields put into the child's request (`{parent.<field>}`) and rows (`include_from_parent`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from beam_api_pipeline.config import ApiConfig, EndpointConfig
from beam_api_pipeline.config.api import PARENT_PLACEHOLDER, parent_placeholders
from beam_api_pipeline.core.paths import get_path


@dataclass(frozen=True)
class EndpointTree:
    """The endpoints as a forest: each child under its `parent`."""

    parents: dict[str, str | None]

    @classmethod
    def of(cls, api: ApiConfig) -> EndpointTree:
        return cls({name: endpoint.parent for name, endpoint in api.endpoints.items()})

    @property
    def roots(self) -> list[str]:
        """The endpoints without a parent, which a run plans windows for."""
        return [name for name, parent in self.parents.items() if parent is None]

    def children(self, endpoint: str) -> list[str]:
        return [name for name, parent in self.parents.items() if parent == endpoint]

    def family(self, root: str) -> list[str]:
        """`root` and every endpoint below it, parents before children."""
        family = [root]
        for name in family:
            family.extend(self.children(name))
        return family

    def lineage(self, endpoint: str) -> list[str]:
        """`endpoint`'s root, the endpoints down from it, and `endpoint` last."""
        lineage = [endpoint]
        while (parent := self.parents[lineage[0]]) is not None:
            lineage.insert(0, parent)
        return lineage

    def levels(self) -> list[list[str]]:
        """The endpoints by depth: the roots, their children, their grandchildren, ..."""
        levels = [self.roots]
        while children := [child for parent in levels[-1] for child in self.children(parent)]:
            levels.append(children)
        return levels

    def depths(self) -> dict[str, int]:
        """Each endpoint's depth: 0 for a root, 1 for its children, ..."""
        return {name: depth for depth, names in enumerate(self.levels()) for name in names}


def parent_column(field: str) -> str:
    """The column a child row gets for parent field `field`: `_parent_number`, `_parent_user_login`."""
    return "_parent_" + field.replace(".", "_")


def parent_fields(endpoint: EndpointConfig) -> list[str]:
    """The parent fields a child endpoint uses: in its request, and copied into its rows."""
    return sorted({*parent_placeholders(endpoint), *endpoint.include_from_parent})


@dataclass(frozen=True)
class ParentRef:
    """The parent record a child task was made for: its primary key (None without one) and the fields the child
    uses, kept as canonical JSON text so that the task stays a plain, hashable value."""

    text: str

    @classmethod
    def of(cls, key: Any, fields: dict[str, Any]) -> ParentRef:
        return cls(json.dumps({"key": key, "fields": fields}, sort_keys=True, separators=(",", ":"), default=str))

    @classmethod
    def for_record(cls, record: Any, key_field: str | None, fields: list[str]) -> ParentRef:
        """The ParentRef of parent `record` for a child that uses `fields`."""
        key = get_path(record, key_field) if key_field else None
        return cls.of(key, {field: get_path(record, field) for field in fields})

    @property
    def key(self) -> Any:
        return json.loads(self.text)["key"]

    @property
    def fields(self) -> dict[str, Any]:
        return json.loads(self.text)["fields"]

    def label(self) -> str:
        """How messages name the parent: its key, else its fields."""
        key = self.key
        return f"parent {json.dumps(key if key is not None else self.fields, default=str)}"

    def columns(self, include: list[str]) -> dict[str, Any]:
        """The `_parent_<field>` columns of the fields in `include`."""
        fields = self.fields
        return {parent_column(field): fields.get(field) for field in include}


def check_placeholders(placeholders: list[str], parent: ParentRef) -> None:
    """Raise a ValueError naming the first of `placeholders` (`parent_placeholders`) that `parent` lacks or has
    as null: its child task cannot be asked for."""
    fields = parent.fields
    for field in placeholders:
        if fields.get(field) is None:
            raise ValueError(f"{{parent.{field}}}: the {parent.label()} has no {field!r}")


def for_parent(endpoint: EndpointConfig, parent: ParentRef) -> EndpointConfig:
    """`endpoint` with each `{parent.<field>}` replaced by the parent's value: URL-quoted in the path; in params,
    body and variables the value itself where the placeholder is the whole text, else its text. A field the
    parent lacks (or has as null) is a ValueError naming it (`check_placeholders`)."""
    check_placeholders(parent_placeholders(endpoint), parent)
    fields = parent.fields

    def text_of(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            whole = PARENT_PLACEHOLDER.fullmatch(value)
            if whole:
                return fields[whole.group(1)]
            return PARENT_PLACEHOLDER.sub(lambda match: text_of(fields[match.group(1)]), value)
        if isinstance(value, dict):
            return {name: fill(item) for name, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    path = PARENT_PLACEHOLDER.sub(lambda match: quote(text_of(fields[match.group(1)]), safe=""), endpoint.path)
    return endpoint.model_copy(
        update={
            "path": path,
            "params": fill(endpoint.params),
            "body": fill(endpoint.body),
            "variables": fill(endpoint.variables),
        }
    )
