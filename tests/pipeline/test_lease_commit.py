"""A run that lost its pipeline lease while it wrote (issue 27, E.13): another run took the lease over (this one
stalled past its `lease_ttl`), so its commit moves no watermark, records the run failed naming the holder, and the
run exits 1; the next run reads its rows again."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest

from beam_api_pipeline.control import lease
from beam_api_pipeline.control.lease import Lease
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.core.windowing import format_utc
from sample_api import SampleApi
from sample_api.data import Dataset
from tests.pipeline.conftest import run_report
from tests.support import read_jsonl, runner_mode_args, stored_watermark, t

pytestmark = pytest.mark.timeout(300)

JAN_2 = list(range(49, 97))


class LeaseTakenOnFirstRead(Dataset):
    """The sample API's records; the first read of a window while a run holds `sample_items`' lease first lets
    another run take it over, as if the holder's lease had expired (the other run's clock reads its expiry)."""

    def __init__(self, store_path: Path):
        super().__init__()
        self._store_path = store_path
        self._once = threading.Lock()
        self.taken: Lease | None = None

    def window(self, since: datetime | None = None, until: datetime | None = None):
        with self._once:
            if self.taken is None:
                self.taken = self._take_over()
        return super().window(since, until)

    def _take_over(self) -> Lease | None:
        store = LocalWatermarkStore(self._store_path)
        try:
            held = store.get_lease("sample_items", lease.utc_now())
            if held is None:
                return None
            ttl = held.expires_at - held.taken_at
            return lease.take(store, "sample_items", "r-other", ttl, clock=lambda: held.expires_at, host="host-b pid 2")
        finally:
            store.close()


@pytest.fixture
def dataset(tmp_path: Path) -> LeaseTakenOnFirstRead:
    return LeaseTakenOnFirstRead(tmp_path / "state" / "control.db")


@pytest.fixture
def sample_api(dataset):
    with SampleApi(dataset) as api:
        yield api


@pytest.mark.parametrize("mode", ["default", "prism"])
def test_a_run_whose_lease_was_taken_while_it_wrote_moves_no_watermark_and_exits_1(
    write_config, dataset, tmp_path, mode
):
    path, config = write_config()
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03", *runner_mode_args(mode))
    taken = dataset.taken
    assert taken.run_id == "r-other"
    assert (code, report["run"]["status"], report["run"]["errors"]) == (
        1,
        "failed",
        [
            f"the lease of pipeline sample_items was taken by run r-other on host-b pid 2 since "
            f"{format_utc(taken.taken_at)} while this run was writing: its watermarks are not moved; the rows it "
            "wrote are read again by the next run"
        ],
    )
    assert stored_watermark(config) is None
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == JAN_2

    store = LocalWatermarkStore(tmp_path / "state" / "control.db")
    try:
        assert store.get_lease("sample_items", lease.utc_now()) == taken  # the lost run left the holder's lease
        store.release_lease("sample_items", "r-other")
    finally:
        store.close()
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-03", *runner_mode_args(mode))
    assert (code, report["run"]["status"], report["run"]["errors"]) == (0, "succeeded", [])
    assert stored_watermark(config) == t("2024-01-03")
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out")) == sorted(JAN_2 * 2)
