"""Pure operations on one record: select, rename, metadata (the `transform` config section)."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.core.paths import get_path

_ABSENT = object()


def select_fields(record: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """Only the fields at `paths`, keeping their nesting (`user.login` → {"user": {"login": ...}}).
    Paths the record does not have are left out."""
    selected: dict[str, Any] = {}
    for path in paths:
        value = get_path(record, path, default=_ABSENT)
        if value is _ABSENT:
            continue
        *parents, leaf = path.split(".")
        target = selected
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return selected


def rename_fields(record: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """The record with top-level keys renamed (`{old: new}`), keeping the order of the fields."""
    return {renames.get(key, key): value for key, value in record.items()}


def apply_transform(record: Any, transform, metadata: dict[str, Any], keep: list[str] | None = None) -> Any:
    """The `transform` section applied to one record: select (which keeps the fields in `keep` too), then rename,
    then metadata."""
    if not isinstance(record, dict):
        return record
    if transform.select:
        record = select_fields(record, [*transform.select, *(keep or [])])
    if transform.rename:
        record = rename_fields(record, dict(transform.rename))
    if transform.add_metadata:
        record = {**record, **metadata}
    return record
