"""The validators of conditional requests in the BigQuery control table (`<table>_validators`) against the
BigQuery emulator: saved and read back, replaced per request, kept apart per pipeline, deleted 30 days after
they were saved; a run of a parent/child
pipeline with its control table there answers 304 where nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.client.validators import Validators
from beam_api_pipeline.config.stores import BigQueryWatermarkStoreConfig
from beam_api_pipeline.control.store import VALIDATORS_KEPT, opened_store
from sample_api.faults import Faults
from tests.support import NOTES_CHILD, t

pytestmark = pytest.mark.timeout(180)

FIRST = {
    ("notes", "GET http://api/children/1/notes"): Validators('W/"a1"', None),
    ("notes", "GET http://api/children/2/notes"): Validators(None, "Tue, 02 Jan 2024 00:00:00 GMT"),
    ("items", "GET http://api/items?order=desc"): Validators('"b2"', "Wed, 03 Jan 2024 00:00:00 GMT"),
}


def test_validators_are_saved_replaced_per_request_and_kept_apart_per_pipeline(control_table, bq):
    assert [f.name for f in bq.get_table(control_table + "_validators").schema] == [
        "pipeline_id", "endpoint", "request", "etag", "last_modified", "run_id", "saved_at",
    ]  # fmt: skip
    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as store:
        assert store.get_validators("it_items") == {}
        store.save_validators("it_items", "run-1", FIRST)
        store.save_validators("other", "run-1", {("notes", "GET http://api/children/1/notes"): Validators('W/"o"')})
        changed = {("notes", "GET http://api/children/1/notes"): Validators('W/"a2"', None)}
        store.save_validators("it_items", "run-2", changed)

        assert store.get_validators("it_items") == {**FIRST, **changed}
        assert store.get_validators("other") == {("notes", "GET http://api/children/1/notes"): Validators('W/"o"')}


def test_a_second_run_with_the_control_table_in_bigquery_answers_304_for_the_lists_that_did_not_change(
    sample_api, write_config, tmp_path, control_table, beam_args
):
    sample_api.faults = Faults(etags=True)
    local = {"type": "local", "config": {"path": str(tmp_path / "out")}}
    path, config = write_config(
        output=[local],
        watermark_store={"type": "bigquery", "table": control_table},
        api_config={"endpoints": {"notes": NOTES_CHILD}},
    )
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z", *beam_args]) == 0
    parents = sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    first = [status for _at, p, status in sample_api.answers() if p.endswith("/notes")]
    for parent in parents:  # each changes: the next run reads its notes again
        sample_api.dataset.move_record(parent, t("2024-01-03T12:00"))
    new = len(sample_api.dataset.ids_between(t("2024-01-03"), t("2024-01-04"))) - len(parents)
    sample_api.reset_stats()

    assert main(["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z", *beam_args]) == 0

    again = sorted(status for _at, p, status in sample_api.answers() if p.endswith("/notes"))
    assert (first, again) == ([200] * len(parents), [200] * new + [304] * len(parents))
    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as store:
        assert len([key for key in store.get_validators(config.pipeline_id) if key[0] == "notes"]) == len(parents) + new


def test_more_validators_than_one_statement_saves_are_all_saved(control_table):
    many = {("notes", f"GET http://api/children/{n}/notes"): Validators(f'W/"{n}"') for n in range(450)}
    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as store:
        store.save_validators("it_items", "run-1", many)  # three statements of at most VALIDATORS_PER_STATEMENT
        assert store.get_validators("it_items") == many


def test_a_save_deletes_the_pipelines_validators_saved_more_than_30_days_before(control_table):
    day = datetime(2024, 3, 1, tzinfo=UTC)
    with opened_store(BigQueryWatermarkStoreConfig(table=control_table)) as store:
        store.save_validators("it_items", "run-1", {("items", "old"): Validators('W/"o"')}, day)
        store.save_validators("other", "run-1", {("items", "old"): Validators('W/"q"')}, day)
        store.save_validators("it_items", "run-2", {("items", "kept"): Validators('W/"k"')}, day + timedelta(days=1))
        store.save_validators("it_items", "run-3", {("items", "new"): Validators('W/"n"')}, day + VALIDATORS_KEPT)
        assert set(store.get_validators("it_items")) == {("items", "old"), ("items", "kept"), ("items", "new")}

        later = day + VALIDATORS_KEPT + timedelta(days=1)
        store.save_validators("it_items", "run-4", {("items", "new"): Validators('W/"n2"')}, later)

        assert store.get_validators("it_items") == {
            ("items", "kept"): Validators('W/"k"'),
            ("items", "new"): Validators('W/"n2"'),
        }
        assert store.get_validators("other") == {("items", "old"): Validators('W/"q"')}
