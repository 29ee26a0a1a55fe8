"""GCS output on DirectRunner against the GCS emulator."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from beam_api_pipeline.cli import main
from tests.support import read_jsonl, t

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_one_folder_per_day_with_at_most_batch_size_lines_per_file(
    compression, sample_api, write_config, gcs, bucket, beam_args
):
    run_folder = f"it-{uuid.uuid4().hex[:8]}"
    prefix = f"{run_folder}/{{endpoint}}/{{window_date}}/"
    output = {
        "type": "gcs",
        "config": {"bucket": bucket, "prefix": prefix, "batch_size": 20, "compression": compression},
    }
    path, _config = write_config(output=[output])
    assert main(["run", "--config", str(path), "--end_time", "2024-01-05T00:00:00Z", *beam_args]) == 0

    listed = gcs.list_blobs(bucket, prefix=f"{run_folder}/items/")
    blobs = [blob for blob in listed if not blob.name.endswith(".schema.json")]  # the run's schema file is above
    folders = sorted({blob.name.rsplit("/", 1)[0] for blob in blobs})
    assert folders == [f"{run_folder}/items/2024-01-0{day}" for day in (2, 3, 4)]
    suffix = ".jsonl.gz" if compression == "gzip" else ".jsonl"
    for day in (2, 3, 4):
        files = [b for b in blobs if b.name.startswith(f"{run_folder}/items/2024-01-0{day}/")]
        assert all(b.name.endswith(suffix) for b in files)
        contents = [b.download_as_bytes() for b in files]
        lines = [(gzip.decompress(data) if compression == "gzip" else data).decode().splitlines() for data in contents]
        assert sorted(len(file_lines) for file_lines in lines) == [8, 20, 20]
        ids = sorted(json.loads(line)["id"] for file_lines in lines for line in file_lines)
        assert ids == sample_api.dataset.ids_between(t(f"2024-01-0{day}"), t(f"2024-01-0{day + 1}"))


def test_the_schema_file_of_a_run_names_its_version_above_the_dated_folders(
    sample_api, write_config, gcs, bucket, beam_args
):
    run_folder = f"it-{uuid.uuid4().hex[:8]}"
    output = {"type": "gcs", "config": {"bucket": bucket, "prefix": f"{run_folder}/{{endpoint}}/{{window_date}}/"}}
    path, _config = write_config(output=[output])
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z", *beam_args]) == 0

    [schema_blob] = [b for b in gcs.list_blobs(bucket, prefix=f"{run_folder}/items/") if b.name.endswith(".json")]
    document = json.loads(schema_blob.download_as_bytes())
    assert schema_blob.name == f"{run_folder}/items/items-{document['run_id']}.schema.json"
    assert (document["pipeline_id"], document["endpoint"], document["schema_version"]) == ("it_items", "items", 1)
    assert document["fields"] == [
        {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
        {"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
        {"name": "title", "type": "STRING", "mode": "NULLABLE"},
        {"name": "value", "type": "INTEGER", "mode": "NULLABLE"},
    ]


def test_a_drifted_day_writes_lines_with_the_new_field_and_a_second_schema_version(
    sample_api, write_config, gcs, bucket, beam_args, tmp_path
):
    run_folder = f"it-{uuid.uuid4().hex[:8]}"
    output = {"type": "gcs", "config": {"bucket": bucket, "prefix": f"{run_folder}/{{endpoint}}/{{window_date}}/"}}
    path, _config = write_config(output=[output])  # schema_contract: evolve, the default
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z", *beam_args]) == 0
    sample_api.set_faults(schema_drift=True)  # `c` in every record, `value` as text in ids 50 and 100

    code = main(["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z", *beam_args])

    blobs = list(gcs.list_blobs(bucket, prefix=f"{run_folder}/items/"))
    lines = [json.loads(line) for b in blobs if b.name.endswith(".jsonl") for line in b.download_as_text().splitlines()]
    day_2 = sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    day_3 = sample_api.dataset.ids_between(t("2024-01-03"), t("2024-01-04"))
    assert sorted((row["id"], row.get("c")) for row in lines) == [(i, None) for i in day_2] + [
        (i, i % 7) for i in day_3 if i % 50
    ]
    assert "c" not in {key for row in lines if row["id"] in day_2 for key in row}
    dead = read_jsonl(tmp_path / "dead_letter")
    assert (code, sorted((row["error_type"], row["record"]["id"]) for row in dead)) == (
        1,
        [("SchemaContract", i) for i in day_3 if i % 50 == 0],
    )
    schemas = [json.loads(b.download_as_bytes()) for b in blobs if b.name.endswith(".schema.json")]
    assert sorted((s["schema_version"], [f["name"] for f in s["fields"]]) for s in schemas) == [
        (1, ["id", "updated_at", "title", "value"]),
        (2, ["id", "updated_at", "title", "value", "c"]),
    ]
