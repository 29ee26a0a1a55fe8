"""A streaming run on Prism writing Parquet files: each poll's file is encoded with the schema its rows show (the
run schema is a side input per poll window), every record stamped before the final watermark lands once, and the
watermark never passes a record that is not in a finished file yet."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tests.live_api import streaming_config, streaming_run


def _parquet_rows(folder: Path) -> list[dict]:
    """The rows of the finished Parquet files in `folder` (not those being written in its `beam-temp-*` folder),
    read as one dataset over the union of their schemas."""
    files = sorted(str(path) for path in folder.glob("items-*.parquet"))
    if not files:
        return []
    schema = pa.unify_schemas([pq.read_schema(path) for path in files])
    return ds.dataset(files, format="parquet", schema=schema).to_table().to_pylist()


def test_every_record_lands_once_in_the_poll_files_before_the_watermark_passes_it(live_api, tmp_path):
    out = tmp_path / "out"
    output = [{"type": "local", "config": {"path": str(out), "file_format": "parquet"}}]
    config = streaming_config(live_api.api.url, tmp_path, output=output)

    def ids_in_files() -> set[int]:
        return {row["id"] for row in _parquet_rows(out)}

    run = streaming_run(config, tmp_path, live_api, 12, sinks=[ids_in_files])

    assert run.code == 0, run.report["run"]["errors"]
    rows = _parquet_rows(out)
    written = Counter(row["id"] for row in rows)
    assert sorted(written) == live_api.ids_before(run.watermark())
    assert [i for i, n in written.items() if n > 1] == []
    assert run.lapses == []
    schemas = [pq.read_schema(path) for path in out.glob("items-*.parquet")]
    assert {schema.field("updated_at").type for schema in schemas} == {pa.timestamp("us", tz="UTC")}
