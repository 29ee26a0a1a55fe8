"""Keys that shape windows and their fan-out: `window_slide` (sliding windows), `window.timestamp_field` and
`parallel_config.max_concurrent_windows` (its per-process share), validated and read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from beam_api_pipeline.config import PipelineConfig, dump_pipeline_config, load_pipeline_config
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.fetch.window_slots import window_slots
from beam_api_pipeline.run.replay import make_replay_plan
from tests.support import t

BASE: dict[str, Any] = {
    "pipeline_id": "windows",
    "api_config": {
        "base_url": "https://api.example.com",
        "endpoints": {"items": {"path": "/items"}},
        "watermark": {"initial_watermark": "2024-01-01T00:00:00Z"},
    },
}


def with_window(window: dict[str, Any], **api: Any) -> dict[str, Any]:
    watermark = {**BASE["api_config"]["watermark"], "window": window}
    return {**BASE, "api_config": {**BASE["api_config"], "watermark": watermark, **api}}


def load(tmp_path: Path, data: dict[str, Any] | str) -> PipelineConfig:
    path = tmp_path / "pipe.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return load_pipeline_config(path)


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ({"window_type": "sliding"}, "window_slide: required when window_type is sliding"),
        ({"window_slide": "1h"}, "window_slide: only allowed when window_type is sliding"),
        ({"window_type": "fixed", "window_slide": "1h"}, "window_slide: only allowed when window_type is sliding"),
        ({"window_type": "sliding", "window_size": "6h", "window_slide": "7h"}, "window_slide: must be <= window_size"),
        ({"window_type": "sliding", "window_slide": "0s"}, "window_slide: must be > 0s"),
        ({"window_type": "sliding", "window_slide": "soon"}, "window_slide: expected a duration like 30s, 15m, 1h, 7d"),
    ],
)
def test_window_slide_errors_name_the_key_by_its_full_path(tmp_path, window, problem):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, with_window(window))
    assert caught.value.problems == [f"{tmp_path / 'pipe.yaml'}: api_config.watermark.window.{problem}"]


def test_a_sliding_window_loads_and_dumps_back_equal(tmp_path):
    config = load(tmp_path, with_window({"window_type": "sliding", "window_size": "6h", "window_slide": "6h"}))
    window = config.api_config.watermark.window
    assert (window.window_type, window.window_size, window.window_slide) == (
        "sliding",
        timedelta(hours=6),
        timedelta(hours=6),
    )
    assert load(tmp_path, dump_pipeline_config(config)) == config


def test_records_are_placed_by_the_window_timestamp_field_when_set(tmp_path):
    watermark = load(tmp_path, with_window({"timestamp_field": "created_at"})).api_config.watermark
    assert (watermark.placement_field(), watermark.timestamp_field) == ("created_at", "updated_at")
    assert load(tmp_path, with_window({})).api_config.watermark.placement_field() == "updated_at"


@pytest.mark.parametrize(("processes", "slots"), [(1, 5), (2, 3), (5, 1), (8, 1)])
def test_each_process_takes_its_share_of_max_concurrent_windows(tmp_path, processes, slots):
    parallel = {"type": "time_window", "max_concurrent_windows": 5}
    config = load(tmp_path, with_window({}, parallel_config=parallel))
    shared = window_slots(config, processes)
    assert shared is not None and shared.slots == slots
    assert window_slots(config, processes) is shared  # one per process, whichever DoFn asks


@pytest.mark.parametrize("parallel", [None, {"type": "known_pages"}])
def test_without_time_window_parallelism_windows_are_not_capped(tmp_path, parallel):
    api = {"parallel_config": parallel, "pagination": {"total_path": "total"}}
    assert window_slots(load(tmp_path, with_window({}, **api)), 1) is None


def test_a_replayed_sliding_window_requests_as_far_back_as_it_did(tmp_path):
    config = load(tmp_path, with_window({"window_type": "sliding", "window_size": "6h", "window_slide": "2h"}))
    row = {
        "kind": "window",
        "pipeline_id": config.pipeline_id,
        "endpoint": "items",
        "window_start": "2024-01-02T02:00:00Z",
        "window_end": "2024-01-02T04:00:00Z",
    }
    store = LocalWatermarkStore(tmp_path / "control.db")
    [task] = make_replay_plan(config, store, [row]).tasks
    assert (task.window.fetch_start, task.window.end) == (t("2024-01-01T22:00"), t("2024-01-02T04:00"))
