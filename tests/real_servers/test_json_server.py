"""The pipeline against json-server, a real third-party REST server (see json_server.py): two incremental runs
walking its `Link` headers, each record once and the exact stored watermark."""

from __future__ import annotations

from beam_api_pipeline.config import load_pipeline_config
from tests.pipeline.conftest import run_report
from tests.real_servers.conftest import WHOLE_SECONDS_DATA, json_server_config
from tests.support import read_jsonl, stored_watermark, t, write_yaml


def test_two_incremental_runs_read_each_record_once(json_server, tmp_path, capsys):
    path = write_yaml(tmp_path / "pipeline.yaml", json_server_config(json_server, tmp_path))

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04T00:00:00Z")
    assert code == 0, capsys.readouterr()
    ids = sorted(row["id"] for row in read_jsonl(tmp_path / "out"))
    assert ids == WHOLE_SECONDS_DATA.ids_between(t("2024-01-02"), t("2024-01-04"))
    assert stored_watermark(load_pipeline_config(path)) == t("2024-01-04")
    assert report["run"]["endpoint_stats"]["items"]["pages"] == 2 * 3  # 600 records a day, 200 a page

    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-07T00:00:00Z")
    assert code == 0, capsys.readouterr()
    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == WHOLE_SECONDS_DATA.ids_between(t("2024-01-02"), t("2024-01-07"))
    assert len(ids) == len(set(ids)) == 3000
    assert stored_watermark(load_pipeline_config(path)) == t("2024-01-07")
    assert report["watermarks"] == {"items": {"before": "2024-01-04T00:00:00Z", "after": "2024-01-07T00:00:00Z"}}
