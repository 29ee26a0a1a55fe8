"""Settings and fixtures for every test package: hypothesis explores freely on a developer's machine and replays
the same examples under CI (`HYPOTHESIS_PROFILE=ci`, set by `.ci/run`), so that a submission never fails on a
draw; `sample_api` is the bundled sample API on 127.0.0.1, one per test."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from sample_api import SampleApi

settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def sample_api() -> Iterator[SampleApi]:
    with SampleApi() as api:
        yield api
