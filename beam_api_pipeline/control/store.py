"""The WatermarkStore interface and the factory that opens the configured one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from beam_api_pipeline.client.validators import Validators
from beam_api_pipeline.control.lease import Lease
from beam_api_pipeline.control.runs import PipelineRun
from beam_api_pipeline.control.schema_versions import SchemaVersion

#: How long a request's validators are kept after they were saved: a key that is not read again (a window of a
#: server-filtered endpoint, a child list of a parent that no longer changes) is deleted then, so that the table
#: stays bounded; a request answered 304 for this long is read in full once, and its validators saved anew.
VALIDATORS_KEPT = timedelta(days=30)


class WatermarkStore(Protocol):
    """Watermarks per (pipeline, endpoint), run records, schema versions and conditional-request validators. A
    watermark never moves backwards."""

    def get_watermark(self, pipeline_id: str, endpoint: str) -> datetime | None:
        """The stored watermark, or None before the first successful window."""

    def advance_watermark(self, pipeline_id: str, endpoint: str, watermark: datetime, run_id: str) -> None:
        """Store `watermark` unless the stored one is already later."""

    def get_validators(self, pipeline_id: str) -> dict[tuple[str, str], Validators]:
        """The validators of the last answer to each request (`conditional.request_key`), by (endpoint, key)."""

    def save_validators(
        self,
        pipeline_id: str,
        run_id: str,
        validators: dict[tuple[str, str], Validators],
        now: datetime | None = None,
    ) -> None:
        """Store `validators` (by endpoint and request key) as saved at `now` (default: the clock), replacing those
        stored for the same requests, and delete the pipeline's validators saved more than `VALIDATORS_KEPT`
        before `now`. Called by the commit only, after the rows are written (`conditional`)."""

    def save_run(self, run: PipelineRun) -> None:
        """Insert or replace a run record; `service_name` and `service_version`, when `run` gives none, keep
        the values recorded before (the commit step's record does not know the service; the first one does)."""

    def get_run(self, run_id: str) -> PipelineRun | None:
        """One run record."""

    def list_runs(self, pipeline_id: str) -> list[PipelineRun]:
        """A pipeline's run records, newest first."""

    def latest_schema(self, pipeline_id: str, endpoint: str) -> SchemaVersion | None:
        """The newest schema version recorded for the endpoint, or None before the first."""

    def record_schema(
        self, pipeline_id: str, endpoint: str, fields: list[dict], changes: list[str], run_id: str, expected: int
    ) -> SchemaVersion | None:
        """Store version `expected + 1` and return it, if the latest version is still `expected` (0: none); None
        when another run recorded a version meanwhile."""

    def schema_versions(self, pipeline_id: str, endpoint: str | None = None) -> list[SchemaVersion]:
        """Oldest first; all endpoints (sorted by endpoint, then version) when endpoint is None."""

    def take_lease(self, wanted: Lease, now: datetime) -> Lease:
        """Give the pipeline's lease to `wanted` when nobody holds it, its holder's lease expired by `now`, or it is
        already `wanted.run_id`'s (a renewal: `taken_at` stays); the holder after, in one atomic step."""

    def advance_watermarks_holding(self, wanted: Lease, now: datetime, watermarks: dict[str, datetime]) -> Lease:
        """`take_lease(wanted, now)`, then, if `wanted.run_id` holds the lease, `advance_watermark` of each endpoint
        in `watermarks` (run `wanted.run_id`); the holder. As atomic as the store allows (see each store)."""

    def get_lease(self, pipeline_id: str, now: datetime) -> Lease | None:
        """The pipeline's lease unless it is free or expired by `now`."""

    def release_lease(self, pipeline_id: str, run_id: str) -> None:
        """Free the pipeline's lease if `run_id` holds it."""

    def close(self) -> None:
        """Release connections."""


def open_store(config) -> WatermarkStore:
    """The store a `watermark_store` section describes."""
    if config.type == "local":
        from beam_api_pipeline.control.local import LocalWatermarkStore

        return LocalWatermarkStore(config.path)
    from beam_api_pipeline.control.bigquery import BigQueryWatermarkStore

    return BigQueryWatermarkStore(config.table)


@contextmanager
def opened_store(config) -> Iterator[WatermarkStore]:
    """`open_store(config)` for a `with` block, closed when the block ends."""
    store = open_store(config)
    try:
        yield store
    finally:
        store.close()
