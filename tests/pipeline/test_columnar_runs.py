"""`file_format: parquet` and `avro` of a local output in whole runs against the sample API over HTTP: every row
read back exactly, with typed columns (`updated_at` a UTC timestamp); and two runs with different schemas (the
sample API's `Faults.schema_drift` between them: every record gains `c`, and `value` is text in ids that are
multiples of 50) read back as one dataset, the first run's rows with `c` null. The `.schema.json` beside each run's
files names the columns its files have.

Run 1 (2024-01-02 .. 01-04) reads ids 49..144, run 2 (2024-01-04 .. 01-06) ids 145..240; ids 150 and 200 carry
text in `value` and go to the dead letter under `schema_contract: evolve`, as for JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from sample_api.data import parse_instant
from tests.pipeline.conftest import run_report
from tests.support import RUNNER_MODES, items_config, read_jsonl, runner_mode_args, stored_watermark, t, write_yaml

RUN_1 = ["--start_time", "2024-01-02", "--end_time", "2024-01-04"]
RUN_2 = ["--start_time", "2024-01-04", "--end_time", "2024-01-06"]
RUN_1_IDS = list(range(49, 145))
RUN_2_IDS = list(range(145, 241))
TEXT_IDS = [150, 200]


def read_parquet_dataset(folder: Path) -> list[dict[str, Any]]:
    """Every row of the endpoint's Parquet files, read as one pyarrow dataset over the union of their schemas."""
    files = sorted(str(path) for path in folder.glob("items-*.parquet"))
    schema = pa.unify_schemas([pq.read_schema(path) for path in files])
    return ds.dataset(files, format="parquet", schema=schema).to_table().to_pylist()


def read_avro_dataset(folder: Path) -> list[dict[str, Any]]:
    """Every row of the endpoint's Avro files, with every column of any of them (null where a file lacks it)."""
    rows, columns = [], {}
    for path in sorted(folder.glob("items-*.avro")):
        with path.open("rb") as handle:
            reader = fastavro.reader(handle)
            columns.update(dict.fromkeys(field["name"] for field in reader.writer_schema["fields"]))
            rows.extend(reader)
    return [{name: row.get(name) for name in columns} for row in rows]


READERS = {"parquet": read_parquet_dataset, "avro": read_avro_dataset}


def expected_row(sample_api, record_id: int, **extra: Any) -> dict[str, Any]:
    """The row of `record_id` as a columnar file holds it: `updated_at` a datetime in UTC."""
    record = sample_api.dataset.record(record_id).as_json()
    return {**record, "updated_at": parse_instant(record["updated_at"]), **extra}


def _config(sample_api, tmp_path, file_format: str) -> Path:
    output = [
        {"type": "local", "config": {"path": str(tmp_path / "out"), "file_format": file_format, "batch_size": 30}}
    ]
    return write_yaml(tmp_path / "p.yaml", items_config(sample_api.url, tmp_path, output=output))


def _schema_files(tmp_path) -> dict[str, list]:
    documents = [json.loads(path.read_text()) for path in (tmp_path / "out").glob("items-*.schema.json")]
    return {document["run_id"]: document["fields"] for document in documents}


#: Parquet on every runner mode; Avro's files are encoded by the same step (`columnar.EncodeFileFn`), on one.
ROUND_TRIPS = [("parquet", mode) for mode in RUNNER_MODES] + [("avro", "default")]


@pytest.mark.parametrize(("file_format", "mode"), ROUND_TRIPS)
def test_a_run_writes_every_row_with_typed_columns(sample_api, tmp_path, file_format, mode):
    path = _config(sample_api, tmp_path, file_format)

    code, report = run_report(tmp_path, "--config", str(path), *RUN_1, *runner_mode_args(mode))

    assert code == 0
    files = sorted((tmp_path / "out").glob(f"items-*.{file_format}"))
    assert all(_row_count(file, file_format) <= 30 for file in files)  # batch_size
    assert len(files) >= 4  # 96 rows, at most 30 a file
    assert report["counters"]["files_written"] == len(files)  # what the commit waited on
    rows = READERS[file_format](tmp_path / "out")
    assert sorted(rows, key=lambda row: row["id"]) == [expected_row(sample_api, i) for i in RUN_1_IDS]
    assert all(row["updated_at"].tzinfo is not None for row in rows)
    assert report["run"]["records_processed"] == 96
    assert stored_watermark(load_pipeline_config(path)) == t("2024-01-04")
    assert _schema_files(tmp_path) == {
        report["run"]["run_id"]: [
            {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
            {"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
            {"name": "title", "type": "STRING", "mode": "NULLABLE"},
            {"name": "value", "type": "INTEGER", "mode": "NULLABLE"},
        ]
    }


@pytest.mark.parametrize("file_format", ["parquet", "avro"])
def test_two_runs_with_different_schemas_read_back_as_one_dataset(sample_api, tmp_path, file_format):
    path = _config(sample_api, tmp_path, file_format)
    assert main(["run", "--config", str(path), *RUN_1]) == 0
    sample_api.set_faults(schema_drift=True)

    code, report = run_report(tmp_path, "--config", str(path), *RUN_2)

    assert code == 1  # the rows with text in `value` went to the dead letter
    rows = READERS[file_format](tmp_path / "out")
    assert sorted(rows, key=lambda row: row["id"]) == [expected_row(sample_api, i, c=None) for i in RUN_1_IDS] + [
        expected_row(sample_api, i, c=i % 7) for i in RUN_2_IDS if i not in TEXT_IDS
    ]
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted((row["record"]["id"], row["error_type"]) for row in dead) == [
        (150, "SchemaContract"),
        (200, "SchemaContract"),
    ]
    assert stored_watermark(load_pipeline_config(path)) == t("2024-01-06")
    run_2 = _schema_files(tmp_path)[report["run"]["run_id"]]
    assert run_2[-1] == {"name": "c", "type": "INTEGER", "mode": "NULLABLE"}
    run_2_files = sorted((tmp_path / "out").glob(f"items-{report['run']['run_id']}-*.{file_format}"))
    assert [_columns(file, file_format) for file in run_2_files] == [[f["name"] for f in run_2]] * len(run_2_files)


def _columns(path: Path, file_format: str) -> list[str]:
    if file_format == "parquet":
        return pq.read_schema(path).names
    with path.open("rb") as handle:
        return [field["name"] for field in fastavro.reader(handle).writer_schema["fields"]]


def _row_count(path: Path, file_format: str) -> int:
    if file_format == "parquet":
        return pq.read_metadata(path).num_rows
    with path.open("rb") as handle:
        return sum(1 for _ in fastavro.reader(handle))
