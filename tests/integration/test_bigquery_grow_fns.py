"""The DoFns a growing BigQuery table is written with, alone against the BigQuery emulator."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.outputs.bigquery_evolve import GrowTableFn, InsertAgainFn
from tests.integration.test_bigquery_output import read_table
from tests.transform_support import pipeline as local_pipeline

pytestmark = pytest.mark.timeout(120)

RACED = [{"reason": "invalid", "location": "c", "message": "no such field: c."}]
BAD_VALUE = [{"reason": "invalid", "location": "id", "message": "Cannot convert value to integer (bad value): x"}]


def test_a_row_that_raced_the_patch_is_inserted_again_and_others_pass_as_refused(bq, project, dataset):
    from google.cloud import bigquery

    table = TableName(project, dataset, "t")
    bq.create_table(bigquery.Table(str(table), schema=[bigquery.SchemaField("id", "INTEGER")]))
    bq.query(f"ALTER TABLE {table.sql} ADD COLUMN c INT64").result()
    refused = [(table.beam_spec, {"id": 1, "c": 2}, RACED), (table.beam_spec, {"id": "x"}, BAD_VALUE)]

    with local_pipeline() as pipeline:
        still = pipeline | beam.Create(refused) | beam.ParDo(InsertAgainFn(first_wait=0.0, sleep=lambda _s: None))
        assert_that(still, equal_to([(table.beam_spec, {"id": "x"}, BAD_VALUE)]))

    assert read_table(bq, str(table)) == [{"id": 1, "c": 2}]


def test_a_missing_table_is_made_from_the_first_row_and_gains_the_columns_of_later_ones(bq, project, dataset):
    table = TableName(project, dataset, "grown")
    rows = [{"id": 1, "user": {"login": "ann"}}, {"id": 2, "user": {"login": "bo", "email": "b@x"}, "tags": ["a"]}]
    grow = GrowTableFn(table, [], frozenset(), partition_field=None, clustering_fields=[])

    with local_pipeline() as pipeline:
        passed = pipeline | beam.Create(rows) | beam.ParDo(grow)
        assert_that(passed, equal_to(rows))

    schema = bq.get_table(str(table)).schema
    assert [(f.name, f.field_type, f.mode, [(s.name, s.field_type) for s in f.fields]) for f in schema] == [
        ("id", "INTEGER", "NULLABLE", []),
        ("user", "RECORD", "NULLABLE", [("login", "STRING"), ("email", "STRING")]),
        ("tags", "STRING", "REPEATED", []),
    ]
