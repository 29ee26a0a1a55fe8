"""Schema contracts (`schema_contract`) on the rows of one run, without the run: TransformRecords holding the
rows to the schema of the run before (the rows it writes, CONTRACT_DROPPED and CONTRACT_FAILED, the counters),
FailContractWindows (the windows `freeze` fails), RowSchemas (the fields the rows written show) and
`record_run_schema` (the version the commit records from them, in a local control store), in a TestPipeline on
the local runner.

The schema before is the one run 1 recorded in tests/pipeline/test_schema_contracts.py: {id, updated_at, title,
value}. The records are the sample API's with `Faults.schema_drift`: every record gains `c` (id % 7), and `value`
is text ('v<value>') in records whose id is a multiple of 50; the windows of 2024-01-04 and 05 hold ids
145..240, of which 150 and 200 carry text."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.plan.run_plan import WindowResult
from beam_api_pipeline.records.dead_letters import window_dead_letter
from beam_api_pipeline.records.row_schemas import FailContractWindows, RowSchemas, record_run_schema
from beam_api_pipeline.records.transform import CONTRACT_DROPPED, CONTRACT_FAILED, TransformRecords
from beam_api_pipeline.schemas.baseline import timestamp_columns
from sample_api import Dataset
from sample_api.faults import Faults
from tests.transform_support import Kept, api_records, config, done, pipeline, run, task

DAYS = [task("2024-01-04", "2024-01-05"), task("2024-01-05", "2024-01-06")]
RUN_2_IDS = list(range(145, 241))
TEXT_IDS = [150, 200]
FIRST_SCHEMA = [
    {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "title", "type": "STRING", "mode": "NULLABLE"},
    {"name": "value", "type": "INTEGER", "mode": "NULLABLE"},
]


def value_of(record_id: int) -> int:
    return (record_id * 37) % 1000


class Held:
    """The records of `days` (drifted from `drift_from` on) held to FIRST_SCHEMA under `contract`, run."""

    def __init__(self, tmp_path, contract: str, primary_key: str | None = "id", days=DAYS, drift_from=DAYS[0]):
        endpoint = {"schema_contract": contract, "primary_key": primary_key}
        self.config = config(tmp_path, api_config={"endpoints": {"items": endpoint}})
        dataset = Dataset()
        pages = [
            page
            for day in days
            for page in api_records(dataset, Faults(schema_drift=day.window.start >= drift_from.window.start), day)
        ]
        kept = tmp_path / "kept"
        kept.mkdir()
        p = pipeline()
        shaped = p | "Pages" >> beam.Create(pages) | TransformRecords(self.config, "r1", None, {"items": FIRST_SCHEMA})
        rows = shaped["rows"]["items"]
        assert_that(rows | "Rows" >> beam.FlatMap(lambda batch: batch), Kept(kept / "rows.json"), label="KeepRows")
        assert_that(shaped[CONTRACT_DROPPED], Kept(kept / "dropped.json"), label="KeepDropped")
        results = p | "Results" >> beam.Create([done(day) for day in days])
        failed = (shaped[CONTRACT_FAILED], results) | FailContractWindows()
        dead = failed | beam.Map(lambda r: window_dead_letter("sample_items", "r1", WindowResult.from_element(r)))
        assert_that(dead, Kept(kept / "failed.json"), label="KeepFailed")
        schemas = {"items": rows} | RowSchemas(timestamp_columns(self.config))
        assert_that(schemas, Kept(kept / "schemas.json"), label="KeepSchemas")
        self.counters = run(p)
        self.rows = {row["id"]: row for row in Kept(kept / "rows.json").elements()}
        assert len(self.rows) == len(Kept(kept / "rows.json").elements())  # each once
        self.dropped = sorted(Kept(kept / "dropped.json").elements(), key=lambda row: row["record"]["id"])
        self.failed = sorted(Kept(kept / "failed.json").elements(), key=lambda row: row["window_start"])
        self.fields = dict(Kept(kept / "schemas.json").elements()).get("items")

    def versions(self) -> list:
        """The schema versions after run 1 recorded FIRST_SCHEMA and this run recorded what its rows showed."""
        with opened_store(self.config.watermark_store) as store:
            record_run_schema(store, "sample_items", "items", FIRST_SCHEMA, "run-1", None)
            if self.fields is not None:
                record_run_schema(store, "sample_items", "items", self.fields, "run-2", None)
            return store.schema_versions("sample_items", "items")


@pytest.mark.parametrize("primary_key", ["id", None], ids=["primary_key", "no_primary_key"])
def test_evolve_adds_the_new_field_and_refuses_rows_of_another_type(tmp_path, primary_key):
    held = Held(tmp_path, "evolve", primary_key)

    assert sorted(held.rows) == [i for i in RUN_2_IDS if i not in TEXT_IDS]
    assert all(row["c"] == row["id"] % 7 and row["value"] == value_of(row["id"]) for row in held.rows.values())
    assert [row["record"]["id"] for row in held.dropped] == TEXT_IDS
    assert {(row["kind"], row["error_type"]) for row in held.dropped} == {("record", "SchemaContract")}
    assert [row["error"] for row in held.dropped] == [
        f"schema_contract evolve: value: expected INTEGER, seen STRING ('v{value_of(i)}')" for i in TEXT_IDS
    ]
    assert held.failed == []
    assert held.counters["schema_rows_refused"] == 2
    versions = held.versions()
    assert [(v.version, v.changes) for v in versions] == [
        (1, ["new schema: id INTEGER, updated_at TIMESTAMP, title STRING, value INTEGER"]),
        (2, ["added c INTEGER"]),
    ]
    assert versions[1].fields == [*FIRST_SCHEMA, {"name": "c", "type": "INTEGER", "mode": "NULLABLE"}]


def test_a_run_that_changes_nothing_records_no_new_version(tmp_path):
    """Ids 241..288 (250 carries text), held to the schema that already knows `c`: no version 3."""
    held = Held(
        tmp_path, "evolve", days=[task("2024-01-06", "2024-01-07")], drift_from=task("2024-01-06", "2024-01-07")
    )
    assert [row["record"]["id"] for row in held.dropped] == [250]
    with opened_store(held.config.watermark_store) as store:
        evolved = [*FIRST_SCHEMA, {"name": "c", "type": "INTEGER", "mode": "NULLABLE"}]
        record_run_schema(store, "sample_items", "items", FIRST_SCHEMA, "run-1", None)
        record_run_schema(store, "sample_items", "items", evolved, "run-2", None)
        latest = record_run_schema(store, "sample_items", "items", held.fields, "run-3", None)
        assert [v.version for v in store.schema_versions("sample_items", "items")] == [1, 2]
    assert latest.version == 2


def test_freeze_fails_each_window_with_a_difference(tmp_path):
    held = Held(tmp_path, "freeze")

    assert (held.rows, held.dropped) == ({}, [])
    assert [(row["kind"], row["window_start"], row["error_type"]) for row in held.failed] == [
        ("window", "2024-01-04T00:00:00Z", "SchemaContract"),
        ("window", "2024-01-05T00:00:00Z", "SchemaContract"),
    ]
    assert {row["error"] for row in held.failed} == {
        "48 rows do not fit the endpoint's schema, for example: schema_contract freeze: c: new field (INTEGER)"
    }
    assert held.counters["schema_rows_refused"] == 96
    assert held.fields is None  # no row written: nothing to record
    assert [v.version for v in held.versions()] == [1]


def test_discard_row_sends_every_row_with_a_difference_to_the_dead_letter(tmp_path):
    held = Held(tmp_path, "discard_row", drift_from=DAYS[1])  # 2024-01-04 without drift: every row fits

    assert sorted(held.rows) == list(range(145, 193))
    assert [row["record"]["id"] for row in held.dropped] == list(range(193, 241))
    by_id = {row["record"]["id"]: row["error"] for row in held.dropped}
    assert by_id[199] == "schema_contract discard_row: c: new field (INTEGER)"
    assert by_id[200] == (
        "schema_contract discard_row: value: expected INTEGER, seen STRING ('v400'); c: new field (INTEGER)"
    )
    assert held.failed == []
    assert held.counters["schema_rows_refused"] == 48
    assert [v.version for v in held.versions()] == [1]


def test_discard_value_writes_every_row_without_the_new_field_and_with_null_for_text(tmp_path):
    held = Held(tmp_path, "discard_value")

    assert sorted(held.rows) == RUN_2_IDS
    assert all("c" not in row for row in held.rows.values())
    assert sorted(i for i, row in held.rows.items() if row["value"] is None) == TEXT_IDS
    assert all(held.rows[i]["value"] == value_of(i) for i in RUN_2_IDS if i not in TEXT_IDS)
    assert (held.dropped, held.failed) == ([], [])
    assert held.counters["schema_values_discarded"] == 96 + 2
    assert [v.version for v in held.versions()] == [1]
