"""Schema evolution on every BigQuery write path (file loads, streaming inserts, merge), against the patched
BigQuery emulator: under `schema_contract: evolve` the table gains the columns of new fields, a missing table is
made from the rows (`schema: infer`, the default under `evolve`), and only type changes are dead letters.

The sample API's records: ids 49..96 on 2024-01-02, 97..144 on 01-03, 145..192 on 01-04. `Faults.schema_drift`
adds `c` (id % 7) to every record and makes `value` text in id 100; `Faults.nested_drift` 1 adds
`meta: {source}`, 2 adds `meta.rank` and `d`.
"""

from __future__ import annotations

import pytest

from beam_api_pipeline.cli import main
from tests.integration.test_bigquery_output import ITEM_SCHEMA, bigquery_output, read_table
from tests.support import RUNNER_MODES, read_jsonl, runner_mode_args, stored_watermark, t

pytestmark = pytest.mark.timeout(300)

DAY_2 = ["--start_time", "2024-01-02", "--end_time", "2024-01-03"]
DAY_3 = ["--start_time", "2024-01-03", "--end_time", "2024-01-04"]
DAY_4 = ["--start_time", "2024-01-04", "--end_time", "2024-01-05"]
PATHS = {
    "file_loads": {"method": "file_loads"},
    "streaming_inserts": {"method": "streaming_inserts"},
    "merge": {"method": "file_loads", "write_disposition": "merge"},
}


def columns(bq, table: str) -> list[tuple]:
    """The table's fields as (name, type, mode[, sub-fields])."""

    def one(field):
        inner = tuple(one(sub) for sub in field.fields)
        return (field.name, field.field_type, field.mode, *((inner,) if inner else ()))

    return [one(field) for field in bq.get_table(table).schema]


def dead_letters(tmp_path) -> list[tuple[str, int]]:
    return sorted((row["error_type"], row["record"]["id"]) for row in read_jsonl(tmp_path / "dead_letter"))


ITEM_COLUMNS = [
    ("id", "INTEGER", "REQUIRED"),
    ("updated_at", "TIMESTAMP", "REQUIRED"),
    ("title", "STRING", "NULLABLE"),
    ("value", "INTEGER", "NULLABLE"),
]


def _drift_cases():
    """Every write path on every runner mode (in `processes`, Beam's worker subprocesses reach the emulators
    through `--beam_plugins`, `gcp.clients.workers_use_emulators`)."""
    return [pytest.param(path, mode, id=f"{path}-{mode}") for path in PATHS for mode in RUNNER_MODES]


@pytest.mark.parametrize(("path", "mode"), _drift_cases())
def test_a_drifted_api_adds_a_column_and_only_type_changes_are_dead_letters(
    path, mode, sample_api, write_config, dataset, bq, project, tmp_path, beam_args
):
    output = bigquery_output(dataset, "items", schema=ITEM_SCHEMA, **PATHS[path])
    config_path, config = write_config(output=[output])  # schema_contract: evolve, the default
    args = [*beam_args, *runner_mode_args(mode)]
    assert main(["run", "--config", str(config_path), *DAY_2, *args]) == 0
    sample_api.set_faults(schema_drift=True)

    code = main(["run", "--config", str(config_path), *DAY_3, *args])

    table = f"{project}.{dataset}.items"
    assert columns(bq, table) == [*ITEM_COLUMNS, ("c", "INTEGER", "NULLABLE")]
    rows = read_table(bq, table, "id, c")
    assert [row["id"] for row in rows] == [i for i in range(49, 145) if i != 100]  # each id once
    assert [row["c"] for row in rows] == [None] * 48 + [i % 7 for i in range(97, 145) if i != 100]
    assert (code, dead_letters(tmp_path)) == (1, [("SchemaContract", 100)])  # `value` as text: a type change
    assert stored_watermark(config) == t("2024-01-04")


def test_a_truncating_load_of_a_drifted_day_replaces_the_rows_and_adds_the_column(
    sample_api, write_config, dataset, bq, project, tmp_path, beam_args
):
    output = bigquery_output(dataset, "items", "file_loads", schema=ITEM_SCHEMA, write_disposition="truncate")
    config_path, _config = write_config(output=[output])
    assert main(["run", "--config", str(config_path), *DAY_2, *beam_args]) == 0
    sample_api.set_faults(schema_drift=True)

    code = main(["run", "--config", str(config_path), *DAY_3, *beam_args])

    table = f"{project}.{dataset}.items"
    assert columns(bq, table) == [*ITEM_COLUMNS, ("c", "INTEGER", "NULLABLE")]
    rows = read_table(bq, table, "id, c")
    assert [(row["id"], row["c"]) for row in rows] == [(i, i % 7) for i in range(97, 145) if i != 100]
    assert (code, dead_letters(tmp_path)) == (1, [("SchemaContract", 100)])


HOW = {
    "file_loads": "load jobs with schemaUpdateOptions",
    "streaming_inserts": "tables.patch before the rows",
    "merge": "load jobs with schemaUpdateOptions into the staging table, tables.patch before MERGE",
}


@pytest.mark.parametrize("path", list(PATHS))
def test_a_missing_table_is_made_from_the_rows_and_grows_with_them(
    path, sample_api, write_config, dataset, bq, project, tmp_path, beam_args, capsys
):
    output = bigquery_output(dataset, "items", **PATHS[path])  # no schema: infer, as the contract is evolve
    config_path, config = write_config(output=[output])
    table = f"{project}.{dataset}.items"
    sample_api.set_faults(nested_drift=1)
    assert main(["run", "--config", str(config_path), *DAY_2, *beam_args]) == 0
    made = [
        ("id", "INTEGER", "NULLABLE"),
        ("updated_at", "TIMESTAMP", "NULLABLE"),
        ("title", "STRING", "NULLABLE"),
        ("value", "INTEGER", "NULLABLE"),
        ("meta", "RECORD", "NULLABLE", (("source", "STRING", "NULLABLE"),)),
    ]
    assert columns(bq, table) == made
    sample_api.set_faults(nested_drift=2)

    assert main(["run", "--config", str(config_path), *DAY_3, *beam_args]) == 0

    meta = ("meta", "RECORD", "NULLABLE", (("source", "STRING", "NULLABLE"), ("rank", "INTEGER", "NULLABLE")))
    assert columns(bq, table) == [*made[:4], meta, ("d", "STRING", "NULLABLE")]
    rows = read_table(bq, table, "id, meta, d")
    assert [row["id"] for row in rows] == list(range(49, 145))
    assert [row["meta"] for row in rows] == [{"source": "api", "rank": None}] * 48 + [
        {"source": "api", "rank": i % 3} for i in range(97, 145)
    ]
    assert [row["d"] for row in rows] == [None] * 48 + [f"d{i}" for i in range(97, 145)]
    assert dead_letters(tmp_path) == []
    sample_api.set_faults(nested_drift=2, schema_drift=True)

    code = main(["run", "--config", str(config_path), *DAY_4, *beam_args])  # a second drift in the next run

    assert columns(bq, table) == [*made[:4], meta, ("d", "STRING", "NULLABLE"), ("c", "INTEGER", "NULLABLE")]
    ids = [row["id"] for row in read_table(bq, table, "id")]
    assert ids == [i for i in range(49, 193) if i != 150]
    assert (code, dead_letters(tmp_path)) == (1, [("SchemaContract", 150)])
    assert stored_watermark(config) == t("2024-01-05")
    capsys.readouterr()
    assert main(["schema", "show", "--config", str(config_path)]) == 0
    applied = f"  applied to bigquery table {table} ({HOW[path]})"
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")] == [
        "  new schema: id INTEGER, updated_at TIMESTAMP, title STRING, value INTEGER, meta RECORD<source STRING>",
        applied,
        "  added meta.rank INTEGER",
        "  added d STRING",
        applied,
        "  added c INTEGER",
        applied,
    ]


def test_a_missing_table_with_schema_null_is_refused_before_the_first_request(
    sample_api, write_config, dataset, bq, project, beam_args, capsys
):
    output = bigquery_output(dataset, "items", method="file_loads", schema=None)
    config_path, config = write_config(output=[output])

    assert main(["run", "--config", str(config_path), *DAY_2, *beam_args]) == 2

    assert capsys.readouterr().err.splitlines() == [
        f"output (bigquery {dataset}.items).config.schema: the table {project}.{dataset}.items does not exist and "
        "schema is null (the table must exist); create it, or set schema to infer (made from the rows' inferred "
        "schema), auto (BigQuery's schema detection, file_loads) or a list of fields"
    ]
    assert sample_api.stats()["requests"] == 0
    assert stored_watermark(config) is None
