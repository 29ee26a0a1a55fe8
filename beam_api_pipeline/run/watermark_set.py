"""`watermark set`: moving an endpoint's stored watermark forward on purpose, under the pipeline's lease,
recorded as a run."""

from __future__ import annotations

from datetime import UTC, datetime

from beam_api_pipeline.config import PipelineConfig, ServiceConfig
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.plan.run_plan import new_run_id
from beam_api_pipeline.run.pipelines import chosen_endpoints
from beam_api_pipeline.run.run_records import with_service


def set_watermark(
    config: PipelineConfig,
    endpoint: str,
    to: datetime,
    reason: str | None = None,
    service: ServiceConfig | None = None,
) -> str:
    """Move `endpoint`'s stored watermark forward to `to` on purpose, skipping `[watermark, to)` unread, under
    the pipeline's lease; the move is recorded as a run record (status `watermark_set`, with a note, naming
    `service`). A watermark never moves back, nor into the future. The note, which is also returned."""
    chosen_endpoints(config, endpoint)
    now = datetime.now(UTC)
    if to > now:
        raise ConfigError(f"--to: {format_utc(to)} is in the future; a watermark says what has been read")
    run_id = new_run_id(now)
    with opened_store(config.watermark_store) as store:
        lease.take(store, config.pipeline_id, run_id, config.watermark_store.lease_ttl)
        try:
            stored = store.get_watermark(config.pipeline_id, endpoint)
            if stored is not None and to <= stored:
                raise ConfigError(
                    f"--to: {format_utc(to)} is not after the watermark of {endpoint}, {format_utc(stored)}; "
                    "a watermark never moves back: read a range again with run --start_time ... --backfill"
                )
            skipped = f"[{format_utc(stored)}, {format_utc(to)})" if stored else f"before {format_utc(to)}"
            note = f"{endpoint}: watermark set to {format_utc(to)} by `watermark set`; {skipped} skipped unread"
            note += f" ({reason})" if reason else ""
            store.advance_watermark(config.pipeline_id, endpoint, to, run_id)
            record = PipelineRun(run_id, config.pipeline_id, RunStatus.WATERMARK_SET, now, now, note=note)
            store.save_run(with_service(record, service or ServiceConfig()))
        finally:
            store.release_lease(config.pipeline_id, run_id)
    return note
