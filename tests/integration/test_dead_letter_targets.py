"""Dead letters in a BigQuery table and under a gs:// path (emulators), and replay from each."""

from __future__ import annotations

import json
import uuid

from beam_api_pipeline.cli import main
from sample_api.children import child_count, child_ids
from tests.support import stored_watermark, t


def local_ids(tmp_path) -> list[int]:
    return sorted(json.loads(line)["id"] for f in (tmp_path / "out").glob("*.jsonl") for line in f.open())


def test_dead_letters_in_a_bigquery_table_are_replayed(
    sample_api, write_config, tmp_path, bq, dataset, project, beam_args
):
    table = f"{project}.{dataset}.dead_letters"
    local = {"type": "local", "config": {"path": str(tmp_path / "out")}}
    path, config = write_config(output=[local], dead_letter={"table": table})

    sample_api.set_faults(fail_since=["2024-01-03T00:00:00Z"])
    assert main(["run", "--config", str(path), "--end_time", "2024-01-05T00:00:00Z", *beam_args]) == 1
    rows = [dict(row.items()) for row in bq.query(f"SELECT * FROM `{table}`").result()]
    assert [(r["kind"], r["endpoint"], r["window_start"], r["status"], r["retries"]) for r in rows] == [
        ("window", "items", t("2024-01-03"), "failed", 2)
    ]
    assert rows[0]["error"].endswith("answered 500")

    sample_api.set_faults(fail_since=[])
    assert main(["replay", "--config", str(path), "--dead_letter", table, *beam_args]) == 0
    assert local_ids(tmp_path) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert stored_watermark(config) == t(
        "2024-01-04"
    )  # the end of the replayed window; the next run goes on from there


def test_dead_letters_under_a_gcs_path_are_replayed(sample_api, write_config, tmp_path, gcs, bucket, beam_args):
    prefix = f"dead-letters-{uuid.uuid4().hex[:8]}"
    local = {"type": "local", "config": {"path": str(tmp_path / "out")}}
    path, config = write_config(output=[local], dead_letter={"path": f"gs://{bucket}/{prefix}"})

    sample_api.set_faults(fail_since=["2024-01-03T00:00:00Z"])
    assert main(["run", "--config", str(path), "--end_time", "2024-01-05T00:00:00Z", *beam_args]) == 1
    blobs = [b for b in gcs.list_blobs(bucket, prefix=prefix + "/") if b.name.endswith(".jsonl")]
    rows = [json.loads(line) for blob in blobs for line in blob.download_as_text().splitlines()]
    assert [(r["kind"], r["window_start"], r["status"]) for r in rows] == [("window", "2024-01-03T00:00:00Z", "failed")]

    sample_api.set_faults(fail_since=[])
    assert main(["replay", "--config", str(path), "--dead_letter", f"gs://{bucket}/{prefix}", *beam_args]) == 0
    assert local_ids(tmp_path) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert stored_watermark(config) == t(
        "2024-01-04"
    )  # the end of the replayed window; the next run goes on from there


def test_a_failed_child_task_in_a_bigquery_dead_letter_table_is_replayed_alone(
    sample_api, write_config, tmp_path, bq, dataset, project, beam_args
):
    table = f"{project}.{dataset}.child_dead_letters"
    children = {"parent": "items", "path": "/items/{parent.id}/children", "records_path": "children",
                "primary_key": "id", "include_from_parent": ["id"]}  # fmt: skip
    local = {"type": "local", "config": {"path": str(tmp_path / "out")}}
    changes = {"api_config": {"endpoints": {"children": children}}}
    path, config = write_config(output=[local], dead_letter={"table": table}, **changes)
    gone = sample_api.dataset.ids_between(t("2024-01-03"), t("2024-01-04"))[0]
    sample_api.set_faults(missing_paths=[f"/items/{gone}/children"])
    assert main(["run", "--config", str(path), "--end_time", "2024-01-05T00:00:00Z", *beam_args]) == 1

    rows = [dict(row.items()) for row in bq.query(f"SELECT * FROM `{table}`").result()]
    assert [(r["kind"], r["endpoint"], r["window_start"], r["status"]) for r in rows] == [
        ("window", "children", t("2024-01-03"), "failed")
    ]
    assert json.loads(rows[0]["record"]) == {"parent": {"key": gone, "fields": {"id": gone}}}
    assert stored_watermark(config, "items") == t("2024-01-05")
    assert stored_watermark(config, "children") == t("2024-01-03")  # held at the failed child task's window

    sample_api.set_faults(missing_paths=[])
    sample_api.reset_stats()
    assert main(["replay", "--config", str(path), "--dead_letter", table, *beam_args]) == 0
    pages = -(-child_count(gone) // config.api_config.pagination.page_size)
    assert sample_api.stats()["by_path"] == {f"/items/{gone}/children": pages}
    written = [json.loads(line) for f in (tmp_path / "out" / "children").glob("*.jsonl") for line in f.open()]
    parents = sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert sorted(row["id"] for row in written) == sorted(c for parent in parents for c in child_ids(parent))
    assert stored_watermark(config, "children") == t("2024-01-04")
