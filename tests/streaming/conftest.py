"""Fixtures for streaming runs on Prism (`tests.live_api`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_api import LiveApi, StreamingRun, live_sample_api, streaming_run


@pytest.fixture
def live_api() -> Iterator[LiveApi]:
    with live_sample_api() as live:
        yield live


@pytest.fixture
def run_streaming(tmp_path: Path, live_api: LiveApi) -> Callable[..., StreamingRun]:
    """Runs the pipeline `config` (a dict) on Prism until `seconds` from now (`tests.live_api.streaming_run`)."""

    def run(config: dict[str, Any], seconds: float, *args: str) -> StreamingRun:
        return streaming_run(config, tmp_path, live_api, seconds, *args)

    return run
