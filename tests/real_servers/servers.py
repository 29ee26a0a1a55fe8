"""Starting and stopping the real third-party REST servers of this folder on 127.0.0.1.

The servers are installed by `make real-servers` (which `make test` runs before it enters the test namespace)
from the package registries into `.tools/`; a test whose server is missing fails, never skips, so that a broken
install cannot pass for a passing test.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.redis_server import _free_port as free_port

TOOLS = Path(__file__).resolve().parents[2] / ".tools"
START_TIMEOUT_SECONDS = 30.0

__all__ = ["ServerProcess", "free_port", "installed"]

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child between fork and exec only calls it


def _die_with_the_tests() -> None:
    """In the server's process before it starts: SIGTERM when the process that started it ends, so that a
    killed test run (a timeout, a closed pipe) leaves no server behind."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def installed(variable: str, name: str) -> Path:
    """The executable `make real-servers` installs as `.tools/<name>` (or the path in `variable`)."""
    location = Path(os.environ.get(variable) or TOOLS / name)
    if not os.access(location, os.X_OK):
        pytest.fail(f"no {name} at {location}: run `make real-servers` (or `make test`, which installs it)")
    return location


class ServerProcess:
    """A server started with `command`, its output in `log`; up once `health_url` answers 200."""

    def __init__(self, command: list[str], health_url: str, log: Path, cwd: Path):
        self.log = log
        with log.open("ab") as output:
            self._process = subprocess.Popen(
                command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, preexec_fn=_die_with_the_tests
            )
        self._wait_until_up(health_url)

    def _wait_until_up(self, health_url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                if requests.get(health_url, timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{health_url} did not answer; the server's output:\n{self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
