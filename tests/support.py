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
