"""requirements.lock, the full lock the image installs (`make lock`: uv from requirements.txt, for Python 3.11 on
linux/amd64): every package pinned to one version, each pin of requirements.txt kept as it is, and the versions
this test environment runs the suite with are the lock's. (`make lock-check`, with registry access, compiles it
again and fails on any difference.)"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]+\])?==(?P<version>[^\s;#]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """name -> version of each requirement line of `path` (comments and blank lines skipped); AssertionError
    on a line that is not one exact pin."""
    found = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        match = _PIN.fullmatch(text)
        assert match, f"{path.name}: not an exact pin: {line!r}"
        found[_name(match["name"])] = match["version"]
    return found


LOCK = pins(ROOT / "requirements.lock")


def test_each_pin_of_requirements_txt_is_in_the_lock_at_its_version():
    wanted = pins(ROOT / "requirements.txt")
    assert {name: LOCK.get(name) for name in wanted} == wanted


def test_the_lock_is_complete_for_what_the_image_installs():
    assert len(LOCK) > 100  # apache-beam[gcp] and its dependencies, each pinned
    assert {"apache-beam", "protobuf", "grpcio", "google-cloud-bigquery", "pyarrow"} <= set(LOCK)


def test_the_suite_runs_on_the_locked_versions():
    installed = {}
    for name in LOCK:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a platform-only dependency of the lock (for example a keyring backend)
    assert len(installed) > 100
    assert {name: version for name, version in installed.items() if version != LOCK[name]} == {}
