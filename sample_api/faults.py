"""Faults the sample API injects on its data routes: latency, 500s, 429s, failing windows, foreign or looping
next-page links, broken answers (`ANSWER_FAULTS`), duplicated and incomplete records, timestamp styles.
A `Faults` is immutable; `FaultState` holds its running state (draws, counts, token bucket)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from sample_api.data import Record, parse_instant

#: What an injected answer fault does: a status (with a JSON error body), or a broken answer.
ANSWER_FAULTS = {
    "500": "answer 500",
    "502": "answer 502",
    "503": "answer 503",
    "429": "answer 429 with the Retry-After of `retry_after`",
    "401": "answer 401 Bad credentials",
    "403": "answer 403 Forbidden",
    "404": "answer 404 Not Found",
    "drop": "send the headers and half the body, then close the connection",
    "stall": "wait `stall_seconds` before answering",
    "malformed_json": "answer 200 with JSON cut short",
    "html_200": "answer 200 with an HTML error page",
    "empty_200": "answer 200 with an empty body",
    "error_200": "answer 200 with a JSON error object and no records",
    "huge_page": "answer the page padded to `huge_page_bytes`",
    "null_200": "answer 200 with the JSON body null",
    "no_content_204": "answer 204 No Content",
    "null_errors": "answer 200 with the records null beside an `errors` array",
    "empty_error": 'answer 200 with no records beside `"error": "query timed out"`',
}
TIMESTAMP_STYLES = ("z", "offset", "naive", "epoch", "mixed")
#: What `Faults.bound_precision` cuts the bounds a request sends to.
BOUND_PRECISIONS = {"seconds": timedelta(seconds=1), "dates": timedelta(days=1)}
#: The first half of 😀 (U+1F600) in UTF-16: not text on its own, and not something UTF-8 can hold.
HALF_EMOJI = "\ud83d"
OFFSET_ZONE = timezone(timedelta(hours=-7))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _parses(text: str) -> bool:
    try:
        parse_instant(text)
    except (ValueError, OverflowError, OSError):
        return False
    return True


@dataclass(frozen=True)
class Faults:
    """The faults the data endpoints inject; replace them whole (`SampleApi.set_faults`), never mutate.

    `latency_ms` delays every data answer, from page `latency_from_page` on (the `page` parameter; a request
    without one is page 1): a walk whose first page is quick and whose later pages are slow.

    `next_url_host` (an origin) makes next-page links (body and `Link` header) point to another host;
    `loop_from_page` (N > 1) makes page N and later link back to page 2: a pagination loop.

    `missing_paths` answer 404 Not Found (a parent whose children are gone).

    `rate_limit` (requests a second) is a token bucket holding one second of requests: a data request finding
    it empty answers 429 with `retry_after`, and every data answer carries `RateLimit-Limit`,
    `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the bucket is full). `rate_limit_every` answers
    429 to every Nth request.

    Answer faults: data requests are counted from 1; those after the first `answer_fault_after` are chosen
    every `answer_fault_every`-th, or with probability `answer_fault_rate` (seeded), or all of them when neither
    is set; with `answer_fault_since`, only requests whose `since` is one of those. At most
    `answer_fault_count` are injected (0: no limit); the chosen ones take the kinds of `answer_faults` in turn.
    `retry_after_date` sends Retry-After as the HTTP date `retry_after` seconds from now.

    Records (generic REST routes): `boundary_duplicates` repeats the last N records of the previous page at the
    start of each page; records whose id is a multiple of `strip_every` lack the fields in `strip_fields`;
    those whose id is a multiple of `half_emoji_every` end their title with half an emoji (a lone UTF-16
    surrogate, `\\ud83d`, as APIs that cut text by UTF-16 units send); `timestamp_style` writes `updated_at`
    with a `Z`, a -07:00 offset, no zone, as epoch seconds, or mixed.

    `quality_fields` adds fields for data quality checks to each record of the generic REST routes (`QUALITY_FIELDS`).
    `schema_drift` changes the records' shape as an API's new version does (`SCHEMA_DRIFT`); `nested_drift` (1 or
    2) gives them a RECORD that gains a field, and a second new field (`NESTED_DRIFT`).

    Window bounds (generic REST routes): `exclusive_since` makes `since` mean "after" (a record stamped exactly
    on it is left out), `inclusive_until` makes `until` mean "up to and including"; `bound_precision`
    (`BOUND_PRECISIONS`) cuts `since` and `until` to whole seconds or days before using them, as an API storing
    coarser times does; `text_filter` reads the window from one `filter` expression,
    `updated_at >= "A" && updated_at < "B"`, comparing A and B as text with each record's time written
    `2024-01-05 00:00:00.000Z` (`rest.text_filtered`).

    `ignore_window_filter` makes the generic REST routes ignore `since` and `until` and serve every record, as an
    API does that does not know the filter parameter, or reads it in another format, and says nothing.

    APIs that end a walk their own way (`rest`, `graphql`): `page_cap` (N > 0) serves at most N records a page
    whatever size is asked, as real APIs cap pages (page numbers then count pages of N); `/items` says the size
    it served in `per_page` when `page_cap_echo`, else the size asked. `capped_total` (N > 0) announces at
    most N as the total (`total`, `totalCount`), as Elasticsearch caps `hits.total`. `empty_pages` answers
    every cursor, next-URL and GraphQL page after the first with an empty page that says more (a cursor,
    `has_more: true`, a next link, `hasNextPage: true`), then the page itself. `moving_records` (ids) move when
    the first page of a window holding them is served (`/items` page 1, `/records` offset 0, the first page
    of `/events`, `/feed` and GraphQL): each is
    stamped `moved_to` (out of the window) or deleted when `moved_to` is None, so the records after it shift
    one place back, as an update or a delete during a walk shifts offset and page-number pages.

    Conditional requests (`conditional`): with `etags`, every 200 data answer carries a weak `ETag` and a
    `Last-Modified`, a request whose `If-None-Match` (or `If-Modified-Since`) shows that the client has the
    current answer is answered 304 Not Modified with no body, and a 304 is not charged to `rate_limit` (its token
    is given back), as GitHub does; `ignore_conditional` keeps the validators but answers every request in full
    (200), as an API that ignores them does. The answers on `changing_paths` change each time they are served
    (a `revision` counter in their body), as a resource that is written to between two reads.

    `ignore_paging` makes `/items` and `/records` ignore `page` and `offset`: every page is the first one, as an
    endpoint serves that does not know the paging parameter. `past_end_404` answers a page of `/items` or
    `/records` past the last record (page > 1, offset > 0) with 404 `{"detail": "Invalid page."}`, as Django
    REST Framework's PageNumberPagination and Flask-SQLAlchemy's paginate() do.
    """

    latency_ms: float = 0.0
    latency_from_page: int = 1
    error_rate: float = 0.0
    rate_limit: float | None = None
    rate_limit_every: int = 0
    retry_after: str = "1"
    fail_since: frozenset[str] = field(default_factory=frozenset)
    missing_paths: frozenset[str] = field(default_factory=frozenset)
    seed: int = 0
    next_url_host: str | None = None
    loop_from_page: int = 0
    retry_after_date: bool = False
    answer_faults: tuple[str, ...] = ()
    answer_fault_every: int = 0
    answer_fault_rate: float = 0.0
    answer_fault_after: int = 0
    answer_fault_count: int = 0
    answer_fault_since: frozenset[str] = field(default_factory=frozenset)
    stall_seconds: float = 2.0
    huge_page_bytes: int = 50 * 2**20
    boundary_duplicates: int = 0
    strip_fields: frozenset[str] = field(default_factory=frozenset)
    strip_every: int = 0
    half_emoji_every: int = 0
    timestamp_style: str = "z"
    quality_fields: bool = False
    schema_drift: bool = False
    nested_drift: int = 0
    exclusive_since: bool = False
    bound_precision: str | None = None
    text_filter: bool = False
    inclusive_until: bool = False
    ignore_window_filter: bool = False
    page_cap: int = 0
    page_cap_echo: bool = True
    capped_total: int = 0
    empty_pages: bool = False
    moving_records: frozenset[int] = field(default_factory=frozenset)
    moved_to: str | None = "2024-02-01T00:00:00Z"
    ignore_paging: bool = False
    past_end_404: bool = False
    etags: bool = False
    ignore_conditional: bool = False
    changing_paths: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for name in ("fail_since", "missing_paths", "answer_fault_since", "strip_fields", "changing_paths"):
            value: Iterable[str] | str = getattr(self, name)  # a set, a list or a single string
            object.__setattr__(self, name, frozenset([value] if isinstance(value, str) else value))
        object.__setattr__(self, "moving_records", frozenset(self.moving_records))
        kinds: Iterable[str] | str = self.answer_faults
        object.__setattr__(self, "answer_faults", (kinds,) if isinstance(kinds, str) else tuple(kinds))
        problems = [
            message
            for failed, message in (
                (self.latency_ms < 0, "latency_ms must be >= 0"),
                (self.latency_from_page < 1, "latency_from_page must be >= 1"),
                (not 0 <= self.error_rate <= 1, "error_rate must be between 0 and 1"),
                (self.rate_limit is not None and self.rate_limit <= 0, "rate_limit must be > 0 or None"),
                (self.rate_limit_every < 0, "rate_limit_every must be >= 0"),
                (self.loop_from_page < 0, "loop_from_page must be >= 0"),
                (not 0 <= self.answer_fault_rate <= 1, "answer_fault_rate must be between 0 and 1"),
                (
                    min(self.answer_fault_every, self.answer_fault_after, self.answer_fault_count) < 0,
                    "answer_fault_every, answer_fault_after and answer_fault_count must be >= 0",
                ),
                (
                    min(
                        self.stall_seconds,
                        self.huge_page_bytes,
                        self.boundary_duplicates,
                        self.strip_every,
                        self.half_emoji_every,
                    )
                    < 0,
                    "stall_seconds, huge_page_bytes, boundary_duplicates, strip_every, half_emoji_every must be >= 0",
                ),
                (self.timestamp_style not in TIMESTAMP_STYLES, f"timestamp_style must be one of {TIMESTAMP_STYLES}"),
                (min(self.page_cap, self.capped_total) < 0, "page_cap and capped_total must be >= 0"),
                (
                    self.moved_to is not None and not _parses(self.moved_to),
                    f"moved_to: not a date-time: {self.moved_to!r}",
                ),
                (
                    self.bound_precision not in (None, *BOUND_PRECISIONS),
                    f"bound_precision must be None or one of {tuple(BOUND_PRECISIONS)}",
                ),
                (
                    self.next_url_host is not None and not urlsplit(self.next_url_host).netloc,
                    "next_url_host must be an origin like http://other-host:8080",
                ),
            )
            if failed
        ]
        problems += [f"fail_since: not a date-time: {text!r}" for text in self.fail_since if not _parses(text)]
        problems += [
            f"answer_fault_since: not a date-time: {text!r}" for text in self.answer_fault_since if not _parses(text)
        ]
        problems += [
            f"answer_faults: unknown kind {kind!r} (known: {', '.join(ANSWER_FAULTS)})"
            for kind in self.answer_faults
            if kind not in ANSWER_FAULTS
        ]
        if problems:
            raise ValueError("; ".join(problems))

    def page_size(self, asked: int) -> int:
        """The records a page serves when `asked` are asked for: at most `page_cap`."""
        return min(asked, self.page_cap) if self.page_cap else asked

    def total(self, count: int) -> int:
        """The total announced for `count` records: at most `capped_total`."""
        return min(count, self.capped_total) if self.capped_total else count

    def move_records(self, dataset: Any, window: list[Record]) -> None:
        """Move (or delete) the `moving_records` that are in `window` (see the class docstring)."""
        for record in window:
            if record.id in self.moving_records:
                dataset.move_record(record.id, None if self.moved_to is None else parse_instant(self.moved_to))

    def fail_since_instants(self) -> frozenset[datetime]:
        """`fail_since` parsed to datetimes."""
        return frozenset(parse_instant(text) for text in self.fail_since)

    def cut_bound(self, bound: datetime | None) -> datetime | None:
        """`bound` as the API reads it: cut to `bound_precision` (whole seconds or days) when that is set."""
        if bound is None or self.bound_precision is None:
            return bound
        step = BOUND_PRECISIONS[self.bound_precision]
        return _EPOCH + (bound - _EPOCH) // step * step

    def record_json(self, record: Record) -> dict[str, Any]:
        """`record` as the generic REST routes answer it, with the timestamp style and stripped fields."""
        body = record.as_json()
        body["updated_at"] = _styled_timestamp(record, self.timestamp_style)
        if self.strip_every and record.id % self.strip_every == 0:
            for name in self.strip_fields:
                body.pop(name, None)
        if self.half_emoji_every and record.id % self.half_emoji_every == 0:
            body["title"] += HALF_EMOJI
        if self.quality_fields:
            body.update(quality_fields(record.id))
        if self.schema_drift:
            body.update(drifted_fields(record.id, body["value"]))
        if self.nested_drift:
            body.update(nested_drift_fields(record.id, self.nested_drift))
        return body


#: What `Faults.quality_fields` adds to a record, and which ids hold the odd values.
QUALITY_FIELDS = {
    "state": "open for odd ids, closed for even ones, spam for multiples of 25",
    "comments": "id % 20, but -1 for multiples of 30",
    "html_url": "https://sample.test/items/<id>, but http:// for multiples of 16",
    "ref": "the id, but id - 1 for the first record of each day (ids 48k + 1): the last record of the day before",
}


def quality_fields(record_id: int) -> dict[str, Any]:
    """The fields `Faults.quality_fields` adds to record `record_id` (see QUALITY_FIELDS)."""
    state = "spam" if record_id % 25 == 0 else ("closed" if record_id % 2 == 0 else "open")
    scheme = "http" if record_id % 16 == 0 else "https"
    return {
        "state": state,
        "comments": -1 if record_id % 30 == 0 else record_id % 20,
        "html_url": f"{scheme}://sample.test/items/{record_id}",
        "ref": record_id - 1 if record_id % 48 == 1 else record_id,
    }


#: What `Faults.schema_drift` changes in a record.
SCHEMA_DRIFT = {
    "c": "a new field: id % 7",
    "value": "text ('v<value>') instead of an integer in records whose id is a multiple of 50",
}


def drifted_fields(record_id: int, value: int) -> dict[str, Any]:
    """The fields `Faults.schema_drift` sets in record `record_id` (see SCHEMA_DRIFT)."""
    return {"c": record_id % 7, "value": f"v{value}" if record_id % 50 == 0 else value}


#: What `Faults.nested_drift` adds to a record, by level.
NESTED_DRIFT = {
    1: "meta: {source: 'api'}",
    2: "meta: {source: 'api', rank: id % 3}, and d: 'd<id>'",
}


def nested_drift_fields(record_id: int, level: int) -> dict[str, Any]:
    """The fields `Faults.nested_drift` at `level` sets in record `record_id` (see NESTED_DRIFT)."""
    if level == 1:
        return {"meta": {"source": "api"}}
    return {"meta": {"source": "api", "rank": record_id % 3}, "d": f"d{record_id}"}


def _styled_timestamp(record: Record, style: str) -> str | int:
    if style == "mixed":
        style = TIMESTAMP_STYLES[record.id % 4]
    moment = record.updated_at
    if style == "offset":
        return moment.astimezone(OFFSET_ZONE).isoformat()
    if style == "naive":
        return moment.replace(tzinfo=None).isoformat()
    if style == "epoch":
        return int(moment.timestamp())
    return record.updated_at_text


class _TokenBucket:
    """`rate` tokens a second, holding at most max(1, rate); not thread-safe on its own."""

    def __init__(self, rate: float):
        self._rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def headers(self) -> dict[str, str]:
        """The IETF draft's `RateLimit-*` headers: the capacity, the whole tokens left and the seconds until
        the bucket is full again."""
        return {
            "RateLimit-Limit": str(int(self.capacity)),
            "RateLimit-Remaining": str(int(self.tokens)),
            "RateLimit-Reset": f"{(self.capacity - self.tokens) / self._rate:.3f}",
        }


class FaultState:
    """One `Faults` with its running state: random draws, the every-Nth count, the token bucket."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self.fail_instants = faults.fail_since_instants()
        self._lock = threading.Lock()
        self._rng = random.Random(faults.seed)
        self._bucket = _TokenBucket(faults.rate_limit) if faults.rate_limit else None
        self._count = 0
        self._answer_count = 0
        self._answers_injected = 0
        self.injected: Counter[str] = Counter()
        self._revisions: Counter[str] = Counter()
        self._answer_since = faults.answer_fault_since and frozenset(
            parse_instant(text) for text in faults.answer_fault_since
        )

    def rate_limited(self) -> tuple[bool, dict[str, str]]:
        """Count one data request: whether it must answer 429, and the `RateLimit-*` headers of the answer
        (none without `rate_limit`)."""
        with self._lock:
            self._count += 1
            every = self.faults.rate_limit_every
            if self._bucket is None:
                return bool(every and self._count % every == 0), {}
            limited = not self._bucket.take() or bool(every and self._count % every == 0)
            return limited, self._bucket.headers()

    def refund(self) -> None:
        """Give back the token of a request that is not charged (a 304)."""
        with self._lock:
            if self._bucket is not None:
                self._bucket.tokens = min(self._bucket.capacity, self._bucket.tokens + 1)

    def revision(self, path: str) -> int | None:
        """The next revision of a path of `changing_paths` (1, 2, ...), None for another path."""
        if path not in self.faults.changing_paths:
            return None
        with self._lock:
            self._revisions[path] += 1
            return self._revisions[path]

    def random_failure(self) -> bool:
        """True for the `error_rate` fraction of calls, in the seeded order."""
        if self.faults.error_rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.faults.error_rate

    def answer_fault(self, since: datetime | None) -> str | None:
        """Count one data request (whose window starts at `since`); the answer fault it gets, if any."""
        faults = self.faults
        if not faults.answer_faults:
            return None
        with self._lock:
            self._answer_count += 1
            if self._answer_since and since not in self._answer_since:
                return None
            if faults.answer_fault_count and self._answers_injected >= faults.answer_fault_count:
                return None
            after = self._answer_count - faults.answer_fault_after
            if after <= 0:
                return None
            if faults.answer_fault_every:
                chosen = after % faults.answer_fault_every == 0
            elif faults.answer_fault_rate:
                chosen = self._rng.random() < faults.answer_fault_rate
            else:
                chosen = True
            if not chosen:
                return None
            kind = faults.answer_faults[self._answers_injected % len(faults.answer_faults)]
            self._answers_injected += 1
            self.injected[kind] += 1
            return kind
