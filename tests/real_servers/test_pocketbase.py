"""The pipeline against PocketBase, a real third-party REST server (see pocketbase.py): incremental runs, its
page cap, its rate limiter and its auth, each ending in the exact ids and the exact stored watermark."""

from __future__ import annotations

from pathlib import Path

from beam_api_pipeline.config import load_pipeline_config
from tests.pipeline.conftest import run_report
from tests.real_servers.conftest import POCKETBASE_DATA, pocketbase_config
from tests.support import read_jsonl, stored_watermark, t, write_yaml


def _run(tmp_path: Path, config: dict, end: str) -> tuple[int, dict]:
    path = write_yaml(tmp_path / "pipeline.yaml", config)
    return run_report(tmp_path, "--config", str(path), "--end_time", end)


def _ids(tmp_path: Path) -> list[str]:
    return sorted(row["id"] for row in read_jsonl(tmp_path / "out"))


def test_two_incremental_runs_read_each_record_once(pocketbase, reader_token, tmp_path, capsys):
    config = pocketbase_config(pocketbase, reader_token, tmp_path)

    code, report = _run(tmp_path, config, "2024-01-05T00:00:00Z")
    assert code == 0, capsys.readouterr()
    assert _ids(tmp_path) == POCKETBASE_DATA.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert stored_watermark(load_pipeline_config(tmp_path / "pipeline.yaml")) == t("2024-01-05")

    code, report = _run(tmp_path, config, "2024-01-08T00:00:00Z")
    assert code == 0, capsys.readouterr()
    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == POCKETBASE_DATA.ids_between(t("2024-01-02"), t("2024-01-08"))
    assert len(ids) == len(set(ids)) == 3000
    assert stored_watermark(load_pipeline_config(tmp_path / "pipeline.yaml")) == t("2024-01-08")
    assert report["watermarks"] == {"items": {"before": "2024-01-05T00:00:00Z", "after": "2024-01-08T00:00:00Z"}}
