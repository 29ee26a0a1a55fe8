"""Schema contracts with a BigQuery output (a declared schema), against the BigQuery emulator: whatever the
contract, every record of the drifted day is in the table or in the dead letter.

Run 1 reads 2024-01-02 (ids 49..96); then the sample API drifts (`Faults.schema_drift`: a new field `c` in every
record, `value` as text in id 100) and run 2 reads 2024-01-03 (ids 97..144).
"""

from __future__ import annotations

import pytest

from beam_api_pipeline.cli import main
from tests.integration.test_bigquery_output import ITEM_SCHEMA, bigquery_output, read_table
from tests.support import read_jsonl, stored_watermark, t

pytestmark = pytest.mark.timeout(240)

DAY_2 = ["--start_time", "2024-01-02", "--end_time", "2024-01-03"]
DAY_3 = ["--start_time", "2024-01-03", "--end_time", "2024-01-04"]


@pytest.mark.parametrize(
    ("contract", "method"),
    [("discard_value", "file_loads"), ("freeze", "file_loads")],  # evolve: test_schema_evolution_bigquery.py
)
def test_no_record_of_a_drifted_day_is_lost(
    contract, method, sample_api, write_config, dataset, bq, project, tmp_path, beam_args
):
    output = bigquery_output(dataset, "items", method, schema=ITEM_SCHEMA)
    endpoint = {"items": {"schema_contract": contract}}
    path, config = write_config(output=[output], api_config={"endpoints": endpoint})
    assert main(["run", "--config", str(path), *DAY_2, *beam_args]) == 0
    sample_api.set_faults(schema_drift=True)

    code = main(["run", "--config", str(path), *DAY_3, *beam_args])

    table = f"{project}.{dataset}.items"
    rows = read_table(bq, table, "id, value")
    dead = read_jsonl(tmp_path / "dead_letter")
    assert [f.name for f in bq.get_table(table).schema] == ["id", "updated_at", "title", "value"]
    if contract == "discard_value":
        assert (code, dead) == (0, [])
        assert [row["id"] for row in rows] == list(range(49, 145))
        assert [row["id"] for row in rows if row["value"] is None] == [100]
        assert stored_watermark(config) == t("2024-01-04")
    else:
        assert code == 1
        assert [row["id"] for row in rows] == list(range(49, 97))
        assert [(row["kind"], row["window_start"], row["error_type"]) for row in dead] == [
            ("window", "2024-01-03T00:00:00Z", "SchemaContract")
        ]
        assert stored_watermark(config) == t("2024-01-03")
