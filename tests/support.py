"""Helpers shared by the test packages (plain functions, not fixtures)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def t(text: str) -> datetime:
    """A UTC time from ISO text without a zone: `t("2024-01-02")`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def read_jsonl(folder: Path) -> list[dict[str, Any]]:
    """Every row of every finished `*.jsonl` file directly in `folder`."""
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text().splitlines())
    return rows


def stored_watermark(config, endpoint: str = "items") -> datetime | None:
    """The watermark `config`'s store holds for `endpoint`."""
    from beam_api_pipeline.watermark.store import open_store

    store = open_store(config.watermark_store)
    try:
        return store.get_watermark(config.pipeline_id, endpoint)
    finally:
        store.close()
