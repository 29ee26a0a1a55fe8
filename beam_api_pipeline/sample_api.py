"""The bundled sample API: a small threaded HTTP server over a deterministic, timestamped data set.

It stands in for a real REST API in `make demo` and in the test suite, so the pipeline's pagination,
windowing and retry code can run end to end without any outside host:

- `GET /items?since=&until=&page=&per_page=` pages by page number;
- `GET /events?since=&until=&cursor=&limit=` pages by an opaque cursor;
- `GET /_stats` reports request counts by path and status and the most requests handled at once.

`since` is inclusive and `until` exclusive. Faults (latency, random 500s, 429s from a token bucket or
on every Nth request, a `since` window that always fails) apply to the data endpoints only and can be
changed while the server runs. Run it with `python -m beam_api_pipeline.sample_api --port 8080`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import contextlib
import dataclasses
import json
import random
import re
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_DAYS = 14
DEFAULT_RECORDS_PER_DAY = 48
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
SECONDS_PER_DAY = 86400
SHUTDOWN_POLL_SECONDS = 0.05

_EPOCH_SECONDS = re.compile(r"-?\d+")

Query = dict[str, list[str]]
Window = tuple[datetime | None, datetime | None]


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

    def as_json(self) -> dict[str, Any]:
        """The record as the API answers it."""
        return {
            "id": self.id,
            "updated_at": format_instant(self.updated_at),
            "title": f"Item {self.id}",
            "value": (self.id * 37) % 1000,
        }


def _record_key(record: Record) -> tuple[datetime, int]:
    return record.updated_at, record.id


def _record_time(record: Record) -> datetime:
    return record.updated_at


class Dataset:
    """Deterministic records spread evenly over `days` days from `start`, sorted by (updated_at, id)."""

    def __init__(
        self,
        start: datetime = DEFAULT_START,
        days: int = DEFAULT_DAYS,
        records_per_day: int = DEFAULT_RECORDS_PER_DAY,
    ):
        if days < 0 or records_per_day < 1:
            raise ValueError("days must be >= 0 and records_per_day >= 1")
        start = as_utc(start)
        step = SECONDS_PER_DAY / records_per_day
        self._lock = threading.Lock()
        self._records = [
            Record(id=i + 1, updated_at=start + timedelta(seconds=i * step)) for i in range(days * records_per_day)
        ]
        self._max_id = len(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def add_records(self, count: int, updated_at: datetime) -> list[int]:
        """Append `count` records with the next ids, all stamped `updated_at`; return their ids."""
        updated_at = as_utc(updated_at)
        with self._lock:
            ids = list(range(self._max_id + 1, self._max_id + 1 + count))
            for record_id in ids:
                bisect.insort(self._records, Record(record_id, updated_at), key=_record_key)
            self._max_id += count
        return ids

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


def _parses(text: str) -> bool:
    try:
        parse_instant(text)
    except (ValueError, OverflowError, OSError):
        return False
    return True


@dataclass(frozen=True)
class Faults:
    """The faults the data endpoints inject; replace them whole (`SampleApi.set_faults`), never mutate."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit: float | None = None
    rate_limit_every: int = 0
    retry_after: str = "1"
    fail_since: frozenset[str] = field(default_factory=frozenset)
    seed: int = 0

    def __post_init__(self) -> None:
        fail_since: Iterable[str] | str = self.fail_since  # a set, a list or a single string
        object.__setattr__(self, "fail_since", frozenset([fail_since] if isinstance(fail_since, str) else fail_since))
        problems = [
            message
            for failed, message in (
                (self.latency_ms < 0, "latency_ms must be >= 0"),
                (not 0 <= self.error_rate <= 1, "error_rate must be between 0 and 1"),
                (self.rate_limit is not None and self.rate_limit <= 0, "rate_limit must be > 0 or None"),
                (self.rate_limit_every < 0, "rate_limit_every must be >= 0"),
            )
            if failed
        ]
        problems += [f"fail_since: not a date-time: {text!r}" for text in self.fail_since if not _parses(text)]
        if problems:
            raise ValueError("; ".join(problems))

    def fail_since_instants(self) -> frozenset[datetime]:
        """`fail_since` parsed to datetimes."""
        return frozenset(parse_instant(text) for text in self.fail_since)


class _TokenBucket:
    """`rate` tokens a second, holding at most max(1, rate); not thread-safe on its own."""

    def __init__(self, rate: float):
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class _FaultState:
    """One `Faults` with its running state: random draws, the every-Nth count, the token bucket."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self.fail_instants = faults.fail_since_instants()
        self._lock = threading.Lock()
        self._rng = random.Random(faults.seed)
        self._bucket = _TokenBucket(faults.rate_limit) if faults.rate_limit else None
        self._count = 0

    def rate_limited(self) -> bool:
        """Count one data request; True if it must answer 429."""
        with self._lock:
            self._count += 1
            every = self.faults.rate_limit_every
            if every and self._count % every == 0:
                return True
            return self._bucket is not None and not self._bucket.take()

    def random_failure(self) -> bool:
        """True for the `error_rate` fraction of calls, in the seeded order."""
        if self.faults.error_rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.faults.error_rate


class _Stats:
    """Thread-safe request counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0

    def reset(self) -> None:
        """Zero the counts; requests being handled still count as in flight."""
        with self._lock:
            self._by_path.clear()
            self._by_status.clear()
            self._max_in_flight = self._in_flight

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def leave(self, path: str, status: int) -> None:
        with self._lock:
            self._in_flight -= 1
            self._by_path[path] += 1
            self._by_status[str(status)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._by_path.values()),
                "by_path": dict(self._by_path),
                "by_status": dict(self._by_status),
                "max_in_flight": self._max_in_flight,
            }


class BadRequest(Exception):
    """A query parameter is invalid; answered 400 with an error naming it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


def _param(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _instant_param(query: Query, name: str) -> datetime | None:
    text = _param(query, name)
    if text is None:
        return None
    try:
        return parse_instant(text)
    except (ValueError, OverflowError, OSError):
        raise BadRequest(name, f"not an ISO 8601 date-time, date or epoch seconds: {text!r}") from None


def _size_param(query: Query, name: str, default: int) -> int:
    """A positive integer parameter, or `default` when absent."""
    text = _param(query, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise BadRequest(name, f"must be a positive integer, got {text!r}")
    return value


def _encode_cursor(record: Record) -> str:
    raw = f"{format_instant(record.updated_at)}|{record.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[datetime, int]:
    """The (updated_at, id) key of the last record already served."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode()
        stamp, record_id = raw.split("|")
        return parse_instant(stamp), int(record_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        raise BadRequest("cursor", f"not a cursor this API issued: {text!r}") from None


def _items(dataset: Dataset, window: Window, query: Query) -> dict:
    """Page-number pagination: page is 1-based, a page past the end is empty."""
    page = _size_param(query, "page", 1)
    per_page = min(_size_param(query, "per_page", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    records = dataset.window(*window)
    offset = (page - 1) * per_page
    return {
        "items": [record.as_json() for record in records[offset : offset + per_page]],
        "total": len(records),
        "page": page,
        "per_page": per_page,
    }


def _events(dataset: Dataset, window: Window, query: Query) -> dict:
    """Cursor (keyset) pagination: the cursor names the last record served, so inserts never shift pages."""
    limit = min(_size_param(query, "limit", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    cursor = _param(query, "cursor")
    records = dataset.window(*window)
    offset = 0 if cursor is None else bisect.bisect_right(records, _decode_cursor(cursor), key=_record_key)
    page = records[offset : offset + limit]
    has_more = offset + limit < len(records)
    return {
        "data": [record.as_json() for record in page],
        "meta": {"next_cursor": _encode_cursor(page[-1]) if has_more else None},
        "has_more": has_more,
    }


Route = Callable[[Dataset, Window, Query], dict]
DATA_ROUTES: dict[str, Route] = {"/items": _items, "/events": _events}
STATS_PATH = "/_stats"


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests; HTTP/1.1 keep-alive with exact Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: no line per request."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == STATS_PATH:
            self._send(200, self.server.api.stats())
            return
        self.server.api._stats.enter()
        status = 500
        try:
            status = self._answer(parts.path, parse_qs(parts.query))
        finally:
            self.server.api._stats.leave(parts.path, status)

    def _answer(self, path: str, query: Query) -> int:
        """Answer a non-stats request; return the status sent."""
        route = DATA_ROUTES.get(path)
        if route is None:
            return self._send(404, {"error": f"no such path: {path}"})
        api = self.server.api
        state = api._fault_state
        faults = state.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if state.rate_limited():
            return self._send(429, {"error": "rate limited"}, {"Retry-After": faults.retry_after})
        try:
            window: Window = _instant_param(query, "since"), _instant_param(query, "until")
            if window[0] is not None and window[0] in state.fail_instants:
                return self._send(500, {"error": f"injected failure for since={format_instant(window[0])}"})
            if state.random_failure():
                return self._send(500, {"error": "injected failure"})
            return self._send(200, route(api.dataset, window, query))
        except BadRequest as error:
            return self._send(400, {"error": str(error), "parameter": error.parameter})

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> int:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        return status


class _Server(ThreadingHTTPServer):
    """Tracks open connections so `stop` can close idle keep-alive ones."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: SampleApi):
        super().__init__(address, _Handler)
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away (and connections `stop` closed); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SampleApi:
    """The sample API server: `with SampleApi().start() as api: requests.get(api.url + "/items")`."""

    def __init__(
        self,
        dataset: Dataset | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.dataset = dataset if dataset is not None else Dataset()
        self._faults_lock = threading.Lock()
        self._fault_state = _FaultState(faults if faults is not None else Faults())
        self._stats = _Stats()
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self._fault_state.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        """Replace the faults; their sequence (random draws, every-Nth count, token bucket) restarts."""
        with self._faults_lock:
            self._fault_state = _FaultState(faults)

    def set_faults(self, **changes: Any) -> Faults:
        """Change some fault fields, e.g. `set_faults(error_rate=1.0)`; return the new faults."""
        with self._faults_lock:
            faults = dataclasses.replace(self._fault_state.faults, **changes)
            self._fault_state = _FaultState(faults)
        return faults

    def start(self) -> SampleApi:
        """Bind and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the sample API is already running")
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="sample-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and release the port."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> SampleApi:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:54321`."""
        if self._server is None:
            raise RuntimeError("the sample API is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stats(self) -> dict[str, Any]:
        """Request counts (requests, by_path, by_status) and max_in_flight; `/_stats` is not counted."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters."""
        self._stats.reset()


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m beam_api_pipeline.sample_api", description="Serve the bundled sample API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--start", type=parse_instant, default=DEFAULT_START, help="first record's time")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--records-per-day", type=int, default=DEFAULT_RECORDS_PER_DAY)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of data requests answering 500")
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second before 429s")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="answer 429 to every Nth request")
    parser.add_argument("--retry-after", default="1", help="the Retry-After header of 429 answers")
    parser.add_argument(
        "--fail-since", action="append", default=[], help="a since value that always answers 500 (repeatable)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the error_rate draws")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; print the listening line once ready."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        faults = Faults(
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            rate_limit=args.rate_limit,
            rate_limit_every=args.rate_limit_every,
            retry_after=args.retry_after,
            fail_since=frozenset(args.fail_since),
            seed=args.seed,
        )
        dataset = Dataset(args.start, args.days, args.records_per_day)
    except ValueError as error:
        parser.error(str(error))
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with SampleApi(dataset, faults, args.host, args.port).start() as api:
        print(f"sample API listening on {api.url}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
