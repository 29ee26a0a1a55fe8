"""The pipeline lease in the BigQuery control store, against the BigQuery emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from beam_api_pipeline.config.stores import BigQueryWatermarkStoreConfig
from beam_api_pipeline.watermark.bigquery import BigQueryWatermarkStore
from beam_api_pipeline.watermark.store import open_store
from tests.lease_store_cases import (  # noqa: F401 - shared tests, run here with this module's store
    test_a_free_lease_is_taken_and_held_until_the_ttl,
    test_a_held_lease_refuses_another_run_naming_the_holder,
    test_a_released_lease_is_free_and_only_its_holder_releases_it,
    test_a_renewal_keeps_the_start_and_moves_the_expiry,
    test_a_run_waits_for_the_lease_until_it_is_released,
    test_an_expired_lease_is_taken_over,
    test_two_runs_racing_for_a_free_lease_one_wins,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def new_store(project, dataset):
    return lambda: open_store(BigQueryWatermarkStoreConfig(table=f"{project}.{dataset}.watermarks"))


@pytest.fixture
def store(new_store) -> Iterator[BigQueryWatermarkStore]:
    opened = new_store()
    yield opened
    opened.close()


def test_the_lease_table_is_created_next_to_the_others(store, project, dataset, bq):
    table = bq.get_table(f"{project}.{dataset}.watermarks_leases")
    assert [(f.name, f.field_type, f.mode) for f in table.schema] == [
        ("pipeline_id", "STRING", "REQUIRED"),
        ("run_id", "STRING", "REQUIRED"),
        ("host", "STRING", "REQUIRED"),
        ("taken_at", "TIMESTAMP", "REQUIRED"),
        ("expires_at", "TIMESTAMP", "REQUIRED"),
    ]
