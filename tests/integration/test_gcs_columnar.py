"""`file_format: parquet` and `avro` of a GCS output on the local runner against the GCS emulator: one folder per
day of window, at most `batch_size` rows an object, every row read back exactly with typed columns; and two runs
with different schemas (the sample API's `Faults.schema_drift` between them) read back from the bucket as one
dataset, the first run's rows with `c` null and the run's `.schema.json` above the dated folders."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam_api_pipeline.cli import main
from sample_api.data import parse_instant
from tests.support import t

pytestmark = pytest.mark.timeout(240)


def _objects(gcs, bucket: str, folder: str, suffix: str) -> dict[str, bytes]:
    return {b.name: b.download_as_bytes() for b in gcs.list_blobs(bucket, prefix=folder) if b.name.endswith(suffix)}


def _table(contents: bytes, file_format: str) -> pa.Table:
    """One object's rows as a pyarrow table (an Avro object's through fastavro, with its writer's columns)."""
    if file_format == "parquet":
        return pq.read_table(io.BytesIO(contents))
    reader = fastavro.reader(io.BytesIO(contents))
    names = [field["name"] for field in reader.writer_schema["fields"]]
    return pa.Table.from_pylist([{name: row[name] for name in names} for row in reader])


def _dataset(objects: dict[str, bytes], file_format: str) -> list[dict[str, Any]]:
    """Every object's rows as one table over the union of their columns (pyarrow's schema unification)."""
    tables = [_table(contents, file_format) for contents in objects.values()]
    return pa.concat_tables(tables, promote_options="default").to_pylist()


def _expected(sample_api, record_id: int, **extra: Any) -> dict[str, Any]:
    record = sample_api.dataset.record(record_id).as_json()
    return {**record, "updated_at": parse_instant(record["updated_at"]), **extra}


@pytest.mark.parametrize("file_format", ["parquet", "avro"])
def test_one_folder_per_day_with_at_most_batch_size_typed_rows_per_object(
    file_format, sample_api, write_config, gcs, bucket, beam_args
):
    run_folder = f"it-{uuid.uuid4().hex[:8]}"
    settings = {"bucket": bucket, "prefix": f"{run_folder}/{{endpoint}}/{{window_date}}/", "batch_size": 20}
    path, _config = write_config(output=[{"type": "gcs", "config": {**settings, "file_format": file_format}}])
    assert main(["run", "--config", str(path), "--end_time", "2024-01-05T00:00:00Z", *beam_args]) == 0

    objects = _objects(gcs, bucket, f"{run_folder}/items/", f".{file_format}")
    for day in (2, 3, 4):
        folder = f"{run_folder}/items/2024-01-0{day}/"
        tables = [_table(contents, file_format) for name, contents in objects.items() if name.startswith(folder)]
        assert sorted(table.num_rows for table in tables) == [8, 20, 20]
        rows = sorted((row for table in tables for row in table.to_pylist()), key=lambda row: row["id"])
        ids = sample_api.dataset.ids_between(t(f"2024-01-0{day}"), t(f"2024-01-0{day + 1}"))
        assert rows == [_expected(sample_api, i) for i in ids]
    assert len(objects) == 9


@pytest.mark.parametrize("file_format", ["parquet", "avro"])
def test_two_runs_with_different_schemas_read_back_as_one_dataset(
    file_format, sample_api, write_config, gcs, bucket, beam_args
):
    run_folder = f"it-{uuid.uuid4().hex[:8]}"
    settings = {"bucket": bucket, "prefix": f"{run_folder}/{{endpoint}}/{{window_date}}/", "file_format": file_format}
    path, _config = write_config(output=[{"type": "gcs", "config": settings}])
    first, second = ["--end_time", "2024-01-03T00:00:00Z"], ["--end_time", "2024-01-04T00:00:00Z"]
    assert main(["run", "--config", str(path), *first, *beam_args]) == 0
    sample_api.set_faults(schema_drift=True)
    assert main(["run", "--config", str(path), *second, *beam_args]) == 1  # ids 50 and 100: text in `value`

    rows = _dataset(_objects(gcs, bucket, f"{run_folder}/items/", f".{file_format}"), file_format)
    day_2 = sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    day_3 = sample_api.dataset.ids_between(t("2024-01-03"), t("2024-01-04"))
    assert sorted(rows, key=lambda row: row["id"]) == [_expected(sample_api, i, c=None) for i in day_2] + [
        _expected(sample_api, i, c=i % 7) for i in day_3 if i % 50
    ]
    schemas = [json.loads(contents) for contents in _objects(gcs, bucket, f"{run_folder}/items/", ".json").values()]
    assert sorted((s["schema_version"], [f["name"] for f in s["fields"]]) for s in schemas) == [
        (1, ["id", "updated_at", "title", "value"]),
        (2, ["id", "updated_at", "title", "value", "c"]),
    ]
