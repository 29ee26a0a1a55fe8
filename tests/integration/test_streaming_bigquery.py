"""A streaming run on Prism writes each poll to BigQuery by streaming inserts (the BigQuery emulator) and to
files, and commits the poll only once both are written: a watcher reads the table and the files each time the
watermark moves."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.test_bigquery_output import ITEM_SCHEMA, METADATA_SCHEMA, bigquery_output, read_table
from tests.live_api import files_of, live_sample_api, streaming_config, streaming_run
from tests.support import read_jsonl

pytestmark = pytest.mark.timeout(180)


def test_each_poll_lands_in_the_table_once_before_its_watermark_is_committed(tmp_path, dataset, bq, project):
    with live_sample_api() as live:
        config = streaming_config(live.api.url, tmp_path)
        table = bigquery_output(dataset, "items", "streaming_inserts", schema=ITEM_SCHEMA + METADATA_SCHEMA)
        config["output"].append(table)
        table_ids = lambda: [row["id"] for row in read_table(bq, f"{project}.{dataset}.items", "id")]  # noqa: E731
        sinks = [files_of(tmp_path / "out"), table_ids]
        run = streaming_run(config, tmp_path, live, 14, f"--project={project}", sinks=sinks)
        watermark = run.watermark()
        expected = live.ids_before(watermark)

    assert run.code == 0, run.report["run"]["errors"]
    assert watermark in run.poll_times()
    rows = read_table(bq, f"{project}.{dataset}.items", "id, _run_id")
    assert Counter(row["id"] for row in rows) == Counter(expected)
    assert {row["_run_id"] for row in rows} == {run.report["run"]["run_id"]}
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out", recursive=True)) == expected
    assert run.lapses == []
    assert run.report["run"]["endpoint_stats"]["items"]["polls"] >= 4
