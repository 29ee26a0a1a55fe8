"""Schema contracts (`api_config.endpoints.<name>.schema_contract`) and the schema history in whole runs against
the sample API over HTTP, for what only the whole shows: the versions a run records and the files that name them
(evolve, on every runner mode), a frozen contract's failed windows holding the watermark and writing no file, and
refused records replayed under another contract. What each contract does to the rows of a run (discard_row,
discard_value, a run that changes nothing) is tested without the run in
tests/transforms/test_schema_contract_rows.py.

Run 1 (2024-01-02 .. 01-04: ids 49..144) records the schema {id, updated_at, title, value}. Then the sample API
drifts (`Faults.schema_drift`): every record gains `c` (id % 7), and `value` is text ('v<value>') in records whose
id is a multiple of 50. Run 2 (2024-01-04 .. 01-06: ids 145..240) meets the drift: ids 150 and 200 carry text.
"""

from __future__ import annotations

import json

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control.store import opened_store
from tests.pipeline.conftest import run_report
from tests.support import RUNNER_MODES, items_config, read_jsonl, runner_mode_args, stored_watermark, t, write_yaml
from tests.transforms.test_schema_contract_rows import FIRST_SCHEMA, RUN_2_IDS, TEXT_IDS, value_of

RUN_1 = ["--start_time", "2024-01-02", "--end_time", "2024-01-04"]
RUN_2 = ["--start_time", "2024-01-04", "--end_time", "2024-01-06"]


def _setup(sample_api, tmp_path, contract: str, primary_key: str | None = "id"):
    endpoint = {"schema_contract": contract, "primary_key": primary_key}
    path = write_yaml(
        tmp_path / "p.yaml", items_config(sample_api.url, tmp_path, api_config={"endpoints": {"items": endpoint}})
    )
    assert main(["run", "--config", str(path), *RUN_1]) == 0
    sample_api.set_faults(schema_drift=True)
    return path


def _versions(path) -> list:
    config = load_pipeline_config(path)
    with opened_store(config.watermark_store) as store:
        return store.schema_versions(config.pipeline_id, "items")


def _schema_files(tmp_path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((tmp_path / "out").glob("items-*.schema.json"))]


def _rows_of_run_2(tmp_path) -> dict[int, dict]:
    rows = {row["id"]: row for row in read_jsonl(tmp_path / "out") if row["id"] >= 145}
    assert len(rows) == len([row for row in read_jsonl(tmp_path / "out") if row["id"] >= 145])  # each once
    return rows


@pytest.mark.parametrize("mode", RUNNER_MODES)
@pytest.mark.parametrize("primary_key", ["id", None], ids=["primary_key", "no_primary_key"])
def test_evolve_adds_the_new_field_and_sends_rows_of_another_type_to_the_dead_letter(
    sample_api, tmp_path, mode, primary_key
):
    path = _setup(sample_api, tmp_path, "evolve", primary_key)
    [first] = _versions(path)
    assert (first.version, first.fields) == (1, FIRST_SCHEMA)

    code, report = run_report(tmp_path, "--config", str(path), *RUN_2, *runner_mode_args(mode))

    assert code == 1  # rows went to the dead letter
    rows = _rows_of_run_2(tmp_path)
    assert report["run"]["records_processed"] == len(rows)
    assert sorted(rows) == [i for i in RUN_2_IDS if i not in TEXT_IDS]
    assert all(row["c"] == row["id"] % 7 and row["value"] == value_of(row["id"]) for row in rows.values())
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted(row["record"]["id"] for row in dead) == TEXT_IDS
    assert {(row["kind"], row["error_type"]) for row in dead} == {("record", "SchemaContract")}
    assert sorted(row["error"] for row in dead) == sorted(
        f"schema_contract evolve: value: expected INTEGER, seen STRING ('v{value_of(i)}')" for i in TEXT_IDS
    )
    assert report["counters"]["schema_rows_refused"] == 2
    assert stored_watermark(load_pipeline_config(path)) == t("2024-01-06")
    versions = _versions(path)
    assert [(v.version, v.changes) for v in versions] == [
        (1, ["new schema: id INTEGER, updated_at TIMESTAMP, title STRING, value INTEGER"]),
        (2, ["added c INTEGER"]),
    ]
    assert versions[1].fields == [*FIRST_SCHEMA, {"name": "c", "type": "INTEGER", "mode": "NULLABLE"}]
    # the local output's files of each run name their schema version
    assert sorted((f["run_id"], f["schema_version"]) for f in _schema_files(tmp_path)) == [
        (versions[0].run_id, 1),
        (report["run"]["run_id"], 2),
    ]
    assert {f["run_id"]: f["fields"] for f in _schema_files(tmp_path)}[report["run"]["run_id"]] == versions[1].fields


def test_freeze_fails_each_window_with_a_difference_and_holds_the_watermark(sample_api, tmp_path):
    path = _setup(sample_api, tmp_path, "freeze")

    code, report = run_report(tmp_path, "--config", str(path), *RUN_2)

    assert code == 1
    assert _rows_of_run_2(tmp_path) == {}
    dead = read_jsonl(tmp_path / "dead_letter")
    assert sorted((row["kind"], row["window_start"], row["error_type"]) for row in dead) == [
        ("window", "2024-01-04T00:00:00Z", "SchemaContract"),
        ("window", "2024-01-05T00:00:00Z", "SchemaContract"),
    ]
    assert {row["error"] for row in dead} == {
        "48 rows do not fit the endpoint's schema, for example: schema_contract freeze: c: new field (INTEGER)"
    }
    assert report["counters"]["schema_rows_refused"] == 96
    assert stored_watermark(load_pipeline_config(path)) == t("2024-01-04")
    assert [v.version for v in _versions(path)] == [1]
    assert [f["schema_version"] for f in _schema_files(tmp_path)] == [1]  # run 2 wrote no file


def test_records_evolve_refused_land_when_replayed_under_discard_value(sample_api, tmp_path):
    path = _setup(sample_api, tmp_path, "evolve")
    assert main(["run", "--config", str(path), *RUN_2]) == 1
    config = items_config(
        sample_api.url, tmp_path, api_config={"endpoints": {"items": {"schema_contract": "discard_value"}}}
    )
    write_yaml(path, config)

    assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0

    rows = [row for row in read_jsonl(tmp_path / "out") if row["id"] in TEXT_IDS]
    assert sorted((row["id"], row["value"], row["c"]) for row in rows) == [(150, None, 150 % 7), (200, None, 200 % 7)]
