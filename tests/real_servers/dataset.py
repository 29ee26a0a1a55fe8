"""The records every real server of this folder is seeded with: `count` ids, one every `step` from `start`, so
that records fall on window boundaries (midnight) and, with a sub-second step, between whole seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.support import t

START = t("2024-01-02")


@dataclass(frozen=True)
class Dataset:
    """Record `n` has id `id_of(n)` and the update time `start + n * step`."""

    count: int
    step: timedelta
    start: datetime = START

    @staticmethod
    def id_of(n: int) -> str:
        return f"rec{n:012d}"  # 15 characters of [a-z0-9]: a valid PocketBase id too

    def time_of(self, n: int) -> datetime:
        return self.start + n * self.step

    def ids_between(self, start: datetime, end: datetime) -> list[str]:
        """The ids of the records updated in [start, end), sorted."""
        return sorted(self.id_of(n) for n in range(self.count) if start <= self.time_of(n) < end)
