"""A streaming run whose bounds are sent as epoch seconds while its ticks fall within seconds (issue 27, A.1): each
poll ends on a whole second, so the part of a second after it is read by the next poll, not lost."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from beam_api_pipeline.core.timeformat import floor_to
from tests.live_api import RECORDS_PER_SECOND, streaming_config
from tests.support import read_jsonl

SECOND = timedelta(seconds=1)


def test_epoch_bounds_with_sub_second_ticks_lose_nothing(live_api, run_streaming, tmp_path):
    lag = timedelta(seconds=1)
    changes = {"api_config": {"watermark": {"time_format": "epoch"}}, "streaming": {"lag": "1s"}}
    run = run_streaming(streaming_config(live_api.api.url, tmp_path, **changes), 14)

    assert run.code == 0, run.report["run"]["errors"]
    ticks = run.poll_times()
    assert any(tick.microsecond for tick in ticks)
    watermark = run.watermark()
    assert watermark in (floor_to(ticks[-1] - lag, SECOND), floor_to(ticks[-2] - lag, SECOND))
    written = Counter(row["id"] for row in read_jsonl(tmp_path / "out", recursive=True))
    expected = live_api.ids_before(watermark)
    assert sorted(written) == expected
    assert [i for i, n in written.items() if n > 1] == []
    assert len(expected) >= 8 * RECORDS_PER_SECOND
    assert run.lapses == []
    assert run.report["run"]["records_processed"] == len(expected)
