"""The Flex Template entry point runs a streaming pipeline with the template parameter `streaming=true` (as the
Dataflow launcher passes it), and refuses what cannot poll: with one line naming the problem, before anything
runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control.store import open_store
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.flex_template import launch
from tests.live_api import POLL_SECONDS, streaming_config
from tests.support import items_config, prism_location, read_jsonl, stored_watermark, write_yaml


def test_the_template_polls_with_streaming_true_until_its_end_time(live_api, tmp_path, capsys):
    path = write_yaml(tmp_path / "pipeline.yaml", streaming_config(live_api.api.url, tmp_path))
    config = load_pipeline_config(path)
    end = datetime.now(UTC) + timedelta(seconds=10)
    args = [f"--pipeline_config={path}", f"--end_time={format_utc(end)}", "--streaming=true"]
    assert launch([*args, "--runner=PrismRunner", f"--prism_location={prism_location()}"]) == 0

    out = capsys.readouterr().out
    assert "polls: items " in out and " done, 0 failed" in out
    (run,) = open_store(config.watermark_store).list_runs(config.pipeline_id)
    watermark = stored_watermark(config)
    ticks = [run.start_time + k * timedelta(seconds=POLL_SECONDS) for k in range(6)]
    assert watermark in [tick for tick in ticks if tick < end]
    written = sorted(row["id"] for row in read_jsonl(tmp_path / "out", recursive=True))
    assert written == live_api.ids_before(watermark)
    assert run.endpoint_stats["items"]["polls"] >= 3


def test_a_streaming_value_that_is_not_true_or_false_is_refused(tmp_path, capsys):
    path = write_yaml(tmp_path / "pipeline.yaml", items_config("http://127.0.0.1:9", tmp_path))
    assert launch([f"--pipeline_config={path}", "--streaming=yes"]) == 2
    assert capsys.readouterr().err.strip() == "--streaming: expected true or false, got 'yes'"


def test_streaming_needs_a_runner_that_streams_and_a_config_that_polls(tmp_path, capsys, monkeypatch):
    polling = write_yaml(tmp_path / "polling.yaml", streaming_config("http://127.0.0.1:9", tmp_path))
    prism = prism_location()
    monkeypatch.setenv("PRISM_LOCATION", str(tmp_path / "no-prism"))  # no runner named, and no project Prism
    assert launch([f"--pipeline_config={polling}"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{polling}: streaming.enabled: needs --runner=PrismRunner (or DataflowRunner): Beam's local FnApiRunner "
        "runs no streaming pipeline"
    )
    batch = write_yaml(tmp_path / "batch.yaml", items_config("http://127.0.0.1:9", tmp_path))
    args = [f"--pipeline_config={batch}", "--streaming=true", "--runner=PrismRunner"]
    assert launch([*args, f"--prism_location={prism}"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{batch}: --streaming: needs streaming.enabled: true (a batch run leaves --streaming out)"
    )
    assert open_store(load_pipeline_config(batch).watermark_store).list_runs("sample_items") == []


def test_an_end_time_that_has_passed_is_refused_before_anything_runs(tmp_path, capsys):
    path = write_yaml(tmp_path / "polling.yaml", streaming_config("http://127.0.0.1:9", tmp_path))
    args = [f"--pipeline_config={path}", "--end_time=2024-01-08T00:00:00Z", "--runner=PrismRunner"]
    assert launch([*args, f"--prism_location={prism_location()}"]) == 2
    assert capsys.readouterr().err.strip() == (
        "--end_time: a streaming run polls until then, so it must be in the future, got 2024-01-08T00:00:00Z"
    )
    assert open_store(load_pipeline_config(path).watermark_store).list_runs("sample_items") == []
