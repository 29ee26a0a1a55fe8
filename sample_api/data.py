"""The sample API's data: a deterministic, timestamped data set, and the time helpers its routes share."""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_DAYS = 14
DEFAULT_RECORDS_PER_DAY = 48
SECONDS_PER_DAY = 86400

_EPOCH_SECONDS = re.compile(r"-?\d+")


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601 (`Z`, offsets, naive = UTC, plain dates) or integer epoch seconds to aware UTC."""
    text = text.strip()
    if _EPOCH_SECONDS.fullmatch(text):
        return datetime.fromtimestamp(int(text), tz=UTC)
    return as_utc(datetime.fromisoformat(text))


def format_instant(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, without a fractional part when the seconds are whole."""
    value = as_utc(value)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Record:
    """One record of the data set."""

    id: int
    updated_at: datetime

    @cached_property
    def updated_at_text(self) -> str:
        """`updated_at` as `format_instant` writes it, made once (every page that serves the record reads it)."""
        return format_instant(self.updated_at)

    def as_json(self) -> dict[str, Any]:
        """The record as the API answers it."""
        return {
            "id": self.id,
            "updated_at": self.updated_at_text,
            "title": f"Item {self.id}",
            "value": (self.id * 37) % 1000,
        }


def record_key(record: Record) -> tuple[datetime, int]:
    """The order of the data set: (updated_at, id)."""
    return record.updated_at, record.id


def _record_time(record: Record) -> datetime:
    return record.updated_at


def day_counts(days: int, records_per_day: int, busy_every: int = 0, busy_factor: int = 1) -> list[int]:
    """The records of each day: `records_per_day`, and `busy_factor` times that on every `busy_every`-th day (the
    first busy day is day `busy_every - 1`; 0: no busy days)."""
    busy = records_per_day * busy_factor
    return [busy if busy_every and day % busy_every == busy_every - 1 else records_per_day for day in range(days)]


class Dataset:
    """Deterministic records spread evenly over each of `days` days from `start`, sorted by (updated_at, id):
    `records_per_day` a day, or `busy_factor` times as many on every `busy_every`-th day (`day_counts`), as an API
    with busy days has."""

    def __init__(
        self,
        start: datetime = DEFAULT_START,
        days: int = DEFAULT_DAYS,
        records_per_day: int = DEFAULT_RECORDS_PER_DAY,
        busy_every: int = 0,
        busy_factor: int = 1,
    ):
        if days < 0 or records_per_day < 1 or busy_every < 0 or busy_factor < 1:
            raise ValueError("days and busy_every must be >= 0, records_per_day and busy_factor >= 1")
        start = as_utc(start)
        self._lock = threading.Lock()
        counts = day_counts(days, records_per_day, busy_every, busy_factor)
        # Each record's time from its index in the day (`records_per_day` a day: its index in the data set).
        times = [
            start + timedelta(seconds=index * SECONDS_PER_DAY / count) + timedelta(days=day)
            if busy_every
            else start + timedelta(seconds=(day * count + index) * (SECONDS_PER_DAY / count))
            for day, count in enumerate(counts)
            for index in range(count)
        ]
        self._records = [Record(id=number, updated_at=moment) for number, moment in enumerate(times, start=1)]
        self._by_id = {record.id: record for record in self._records}
        self._max_id = len(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def add_records(self, count: int, updated_at: datetime | None = None) -> list[int]:
        """Append `count` records with the next ids, all stamped `updated_at` (None: the moment they are added, as
        a live API's new records are); return their ids."""
        with self._lock:
            updated_at = datetime.now(UTC) if updated_at is None else as_utc(updated_at)
            ids = list(range(self._max_id + 1, self._max_id + 1 + count))
            for record_id in ids:
                record = Record(record_id, updated_at)
                bisect.insort(self._records, record, key=record_key)
                self._by_id[record_id] = record
            self._max_id += count
        return ids

    def move_record(self, record_id: int, updated_at: datetime | None) -> None:
        """Stamp record `record_id` `updated_at` (it moves in the order, as an update does), or delete it (None);
        nothing when there is no such record."""
        with self._lock:
            record = self._by_id.pop(record_id, None)
            if record is None:
                return
            self._records.remove(record)
            if updated_at is not None:
                moved = Record(record_id, as_utc(updated_at))
                bisect.insort(self._records, moved, key=record_key)
                self._by_id[record_id] = moved

    def record(self, record_id: int) -> Record | None:
        """The record with id `record_id`, if there is one."""
        with self._lock:
            return self._by_id.get(record_id)

    def window(self, since: datetime | None = None, until: datetime | None = None) -> list[Record]:
        """The records with since <= updated_at < until, in order; a missing bound is unbounded."""
        with self._lock:
            low = 0 if since is None else bisect.bisect_left(self._records, as_utc(since), key=_record_time)
            high = (
                len(self._records)
                if until is None
                else bisect.bisect_left(self._records, as_utc(until), key=_record_time)
            )
            return self._records[low:high]

    def ids_between(self, since: datetime | None = None, until: datetime | None = None) -> list[int]:
        """The ids in the window since (inclusive) .. until (exclusive), in API order."""
        return [record.id for record in self.window(since, until)]
