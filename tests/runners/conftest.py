"""Fixtures for the runner tests: the sample API at the benchmark's scale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sample_api import Dataset, SampleApi
from tests.runners.runs import RECORDS_PER_DAY


@pytest.fixture(scope="module")
def big_api() -> Iterator[SampleApi]:
    """The sample API with 60,000 records over the 30 days from START."""
    with SampleApi(Dataset(days=30, records_per_day=RECORDS_PER_DAY)) as api:
        yield api
