"""Window keys in a whole run: records whose window timestamp field places them outside every window are written
nowhere, fail their windows (exit code 1) and leave the watermark unset. Sliding windows, `window.timestamp_field`,
`max_concurrent_windows` and the `page_ranges` counter on ReadFromApi alone are in
tests/transforms/test_read_windows.py."""

from __future__ import annotations

from beam_api_pipeline.cli import main
from tests.support import read_jsonl, stored_watermark


def test_records_placed_outside_every_window_fail_the_run_and_leave_the_watermark(write_config, tmp_path):
    # Placed by `value` (an integer: epoch seconds in 1970), every record falls outside its 2024 window: nothing
    # is written, and the windows fail instead of moving the watermark over records never written (issue 27)
    out = tmp_path / "by_value"
    path, by_value = write_config(
        pipeline_id="by_value",
        api_config={"watermark": {"timestamp_field": "value"}},
        output=[{"type": "local", "config": {"path": str(out)}}],
    )
    assert main(["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z"]) == 1
    assert read_jsonl(out) == []
    assert stored_watermark(by_value) is None
