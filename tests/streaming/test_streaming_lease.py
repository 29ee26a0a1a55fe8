"""A streaming run whose lease another run takes over while it polls (issue 27, E.13): from then on no poll's
commit moves the watermark, the run is recorded failed naming the holder, once, and exits 1."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control import lease
from beam_api_pipeline.control.lease import Lease
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.windowing import format_utc
from tests.live_api import streaming_config
from tests.support import write_yaml

pytestmark = pytest.mark.timeout(300)


class TakeOverAfterFirstCommit:
    """Once the run committed its first watermark, another run takes its lease over, as if it had expired (the
    other run's clock reads its expiry); `taken` is that lease and `watermark` the one stored right after."""

    def __init__(self, config):
        self._config = config
        self._stop = threading.Event()
        self.taken: Lease | None = None
        self.watermark: datetime | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while self.taken is None and not self._stop.wait(0.1):
            with opened_store(self._config.watermark_store) as store:
                held = store.get_lease(self._config.pipeline_id, lease.utc_now())
                if held is None or store.get_watermark(self._config.pipeline_id, "items") is None:
                    continue
                ttl = held.expires_at - held.taken_at
                self.taken = lease.take(
                    store, held.pipeline_id, "r-other", ttl, clock=lambda at=held.expires_at: at, host="host-b pid 2"
                )
                self.watermark = store.get_watermark(self._config.pipeline_id, "items")


def test_a_streaming_run_that_lost_its_lease_moves_no_watermark_after_and_exits_1(live_api, run_streaming, tmp_path):
    config = streaming_config(live_api.api.url, tmp_path)
    loaded = load_pipeline_config(write_yaml(tmp_path / "pipeline.yaml", config))
    with TakeOverAfterFirstCommit(loaded) as takeover:
        run = run_streaming(config, 14)
    taken = takeover.taken
    assert taken is not None and taken.run_id == "r-other"
    assert (run.code, run.report["run"]["status"], run.report["run"]["errors"]) == (
        1,
        "failed",
        [
            f"the lease of pipeline sample_items was taken by run r-other on host-b pid 2 since "
            f"{format_utc(taken.taken_at)} while this run was writing: its watermarks are not moved; the rows it "
            "wrote are read again by the next run"
        ],
    )
    assert run.watermark() == takeover.watermark
    assert run.watermarks[-1] == takeover.watermark
