"""The sample API's HTTP server: routing, faults, credential checks, request statistics and `SampleApi`."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sample_api import children, github, graphql, rest, weather
from sample_api.answers import broken_answer, retry_after_value
from sample_api.auth import (
    LOGIN_PATH,
    TOKEN_PATH,
    Credentials,
    LoginIssuer,
    LoginSettings,
    OAuthSettings,
    TokenIssuer,
    check_credentials,
)
from sample_api.conditional import Validation
from sample_api.data import Dataset, format_instant
from sample_api.faults import Faults, FaultState
from sample_api.protocol import BadRequest, Reply, Request

SHUTDOWN_POLL_SECONDS = 0.05
STATS_PATH = "/_stats"
REDIRECT_PATH = "/redirect"
ECHO_PATH = "/echo/headers"

#: What a data route sees when an expired login token is answered with no records.
_NO_RECORDS = Dataset(days=0)

DataRoute = Callable[[Dataset, Faults, Request], Reply]
DATA_ROUTES: dict[tuple[str, str], DataRoute] = {
    ("GET", "/items"): rest.items,
    ("GET", "/events"): rest.events,
    ("GET", "/records"): rest.records,
    ("GET", "/feed"): rest.feed,
    ("POST", "/graphql"): graphql.graphql,
}


def _page_number(request: Request) -> int:
    """The page a request asks for (`page`), 1 when it names none or none that is a number."""
    values = request.query.get("page") or ["1"]
    return int(values[0]) if values[0].isdigit() else 1


def _github_route(path: str) -> DataRoute | None:
    """The issues route of a `/repos/{owner}/{repo}/issues` or `/repositories/{id}/issues` path, or the comments
    route of `/repos/{owner}/{repo}/issues/{number}/comments`."""
    comments = github.COMMENTS_PATH.fullmatch(path)
    if comments:
        repo_path, number = f"/repos/{comments['owner']}/{comments['repo']}", int(comments["number"])
        return lambda dataset, _faults, request: github.comments(dataset, request, repo_path, number)
    match = github.REPO_PATH.fullmatch(path)
    if match:
        repo_path = f"/repos/{match['owner']}/{match['repo']}"
        repo_id = github.repository_id(match["owner"], match["repo"])
    else:
        match = github.REPOSITORY_ID_PATH.fullmatch(path)
        if not match:
            return None
        repo_path, repo_id = f"/repositories/{match['repository_id']}", int(match["repository_id"])
    return lambda dataset, faults, request: github.issues(dataset, faults, request, repo_path, repo_id)


def _data_route(method: str, path: str) -> DataRoute | None:
    route = DATA_ROUTES.get((method, path))
    if route is None and method == "GET":
        if path == "/v1/archive":
            return lambda _dataset, _faults, request: weather.archive(request)
        match = children.CHILDREN_PATH.fullmatch(path)
        if match:
            item_id = int(match["item_id"])
            return lambda dataset, faults, request: children.children(dataset, faults, request, item_id)
        match = children.NOTES_PATH.fullmatch(path)
        if match:
            child_id = int(match["child_id"])
            return lambda dataset, faults, request: children.notes(dataset, faults, request, child_id)
        return _github_route(path)
    return route


def _conditional_headers(request: Request) -> dict[str, str]:
    """The conditional headers `request` carries."""
    names = ("If-None-Match", "If-Modified-Since")
    return {name: request.headers[name] for name in names if request.headers.get(name) is not None}


class _Stats:
    """Thread-safe request counters, and a log of the answers: (monotonic time, path, status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: list[tuple[float, str, int]] = []
        self._conditional: list[tuple[str, dict[str, str]]] = []
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0

    def reset(self) -> None:
        """Zero the counts; requests being handled still count as in flight."""
        with self._lock:
            self._answers.clear()
            self._conditional.clear()
            self._by_path.clear()
            self._by_status.clear()
            self._max_in_flight = self._in_flight

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def answered(self, path: str, status: int, conditional: dict[str, str] | None = None) -> None:
        """Count an answer and end its request's time in flight, before a byte of it is sent: a client that has
        read it finds it counted, and one that holds a slot until its answer is read never sees more requests
        in flight here than its own cap."""
        with self._lock:
            self._in_flight -= 1
            self._answers.append((time.monotonic(), path, status))
            self._conditional.append((path, conditional or {}))
            self._by_path[path] += 1
            self._by_status[str(status)] += 1

    def answers(self) -> list[tuple[float, str, int]]:
        with self._lock:
            return list(self._answers)

    def conditional(self) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            return list(self._conditional)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._by_path.values()),
                "by_path": dict(self._by_path),
                "by_status": dict(self._by_status),
                "max_in_flight": self._max_in_flight,
            }


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests; HTTP/1.1 keep-alive with exact Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: no line per request."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts.path == STATS_PATH:
            self._send(Reply(200, self.server.api.stats()))
            return
        host = self.headers.get("Host") or self.server.api.url.removeprefix("http://")
        request = Request(method, parts.path, parse_qs(parts.query), self.headers, body, f"http://{host}")
        stats = self.server.api._stats
        stats.enter()
        try:
            reply = self._answer(request)
        except BaseException:
            stats.leave()
            raise
        stats.answered(parts.path, reply.status, _conditional_headers(request))
        self._send(reply)

    def _answer(self, request: Request) -> Reply:
        api = self.server.api
        if request.path == TOKEN_PATH and request.method == "POST":
            return api.token_issuer.grant(request)
        if request.path == LOGIN_PATH and request.method == "POST":
            return api.login_issuer.login(request)
        if request.path == REDIRECT_PATH:
            return Reply(302, {"location": request.param("to")}, {"Location": request.param("to") or "/"})
        if request.path == ECHO_PATH:
            return Reply(200, {"headers": dict(request.headers.items()), "query": request.query})
        route = _data_route(request.method, request.path)
        if route is None:
            return Reply(404, {"error": f"no such path: {request.method} {request.path}"})
        state = api._fault_state
        faults = state.faults
        if faults.latency_ms and _page_number(request) >= faults.latency_from_page:
            time.sleep(faults.latency_ms / 1000)
        limited, budget = state.rate_limited()
        if limited:
            if github.REPO_PATH.fullmatch(request.path) or github.REPOSITORY_ID_PATH.fullmatch(request.path):
                return github.rate_limited(retry_after_value(faults))
            return Reply(429, {"error": "rate limited"}, {"Retry-After": retry_after_value(faults), **budget})
        refused = check_credentials(api.credentials, api.token_issuer, request, api.login_issuer)
        if refused is not None:
            return refused
        if request.path in faults.missing_paths:
            return Reply(404, {"error": f"injected: {request.path} is gone"})
        try:
            since = rest.instant_param(request, "since")
            if since is not None and since in state.fail_instants:
                return Reply(500, {"error": f"injected failure for since={format_instant(since)}"})
            if state.random_failure():
                return Reply(500, {"error": "injected failure"})
            kind = state.answer_fault(since)
            if kind == "stall":
                time.sleep(faults.stall_seconds)
            hidden = api.credentials.login and api.login_issuer.hides_data(request)
            answer = route(_NO_RECORDS if hidden else api.dataset, faults, request)
            answer = dataclasses.replace(answer, headers={**budget, **answer.headers})
            if kind is not None:
                return broken_answer(kind, answer, faults)
            return self._validated(request, answer)
        except BadRequest as error:
            return Reply(400, {"error": str(error), "parameter": error.parameter})

    def _validated(self, request: Request, answer: Reply) -> Reply:
        """`answer` with its validators, changed first if its path is one of `changing_paths`; a 304 instead
        when the request's validators match, its rate-limit token given back (`conditional`)."""
        state = self.server.api._fault_state
        revision = state.revision(request.path)
        if revision is not None and isinstance(answer.body, dict):
            answer = dataclasses.replace(answer, body={**answer.body, "revision": revision})
        answer = self.server.api.validation.answer(request, answer, state.faults)
        if answer.status == 304:
            state.refund()
        return answer

    def _send(self, reply: Reply) -> None:
        payload = reply.payload()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers, "Content-Length": str(len(payload))}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.drop_after is None:
            self.wfile.write(payload)
            return
        self.wfile.write(payload[: reply.drop_after])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


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
    """The sample API server: `with SampleApi().start() as api: requests.get(api.url + "/items")`.

    `credentials` says what the data routes require (nothing by default); `oauth` configures the token
    endpoint `POST /oauth/token`, whose access tokens the data routes accept when `credentials.oauth` is set;
    `login_issuer` answers `POST /auth/login`, whose tokens they accept when `credentials.login` is set.
    """

    def __init__(
        self,
        dataset: Dataset | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Credentials | None = None,
        oauth: OAuthSettings | None = None,
        tls: ssl.SSLContext | None = None,
    ):
        self.dataset = dataset if dataset is not None else Dataset()
        self.credentials = credentials if credentials is not None else Credentials()
        self.token_issuer = TokenIssuer(oauth if oauth is not None else OAuthSettings())
        self.login_issuer = LoginIssuer(LoginSettings())
        self._faults_lock = threading.Lock()
        self._fault_state = FaultState(faults if faults is not None else Faults())
        self._stats = _Stats()
        self.validation = Validation()
        self._address = (host, port)
        self._tls = tls
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
            self._fault_state = FaultState(faults)

    def set_faults(self, **changes: Any) -> Faults:
        """Change some fault fields, e.g. `set_faults(error_rate=1.0)`; return the new faults."""
        with self._faults_lock:
            faults = dataclasses.replace(self._fault_state.faults, **changes)
            self._fault_state = FaultState(faults)
        return faults

    def start(self) -> SampleApi:
        """Bind and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the sample API is already running")
        self._server = _Server(self._address, self)
        if self._tls is not None:
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True)
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
        """The base URL, e.g. `http://127.0.0.1:54321` (`https://` when serving TLS)."""
        if self._server is None:
            raise RuntimeError("the sample API is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def stats(self) -> dict[str, Any]:
        """Request counts (requests, by_path, by_status) and max_in_flight; `/_stats` is not counted."""
        return self._stats.snapshot()

    def answers(self) -> list[tuple[float, str, int]]:
        """Every data answer since the last reset, in order: (time.monotonic() when sent, path, status)."""
        return self._stats.answers()

    def conditional_headers(self) -> list[tuple[str, dict[str, str]]]:
        """Every data request since the last reset, in order: (path, its `If-None-Match` and `If-Modified-Since`
        headers, those it sent)."""
        return self._stats.conditional()

    def charged(self, prefix: str = "/") -> int:
        """The data requests since the last reset on paths starting with `prefix` that the API charged: all but
        those answered 304 Not Modified (`Faults.etags`)."""
        return sum(status != 304 for _at, path, status in self.answers() if path.startswith(prefix))

    def injected(self) -> dict[str, int]:
        """The answer faults injected since the faults were last set, by kind."""
        return dict(self._fault_state.injected)

    def reset_stats(self) -> None:
        """Zero the counters."""
        self._stats.reset()
