"""The pure parts of the BigQuery and GCS outputs: schemas, row checks, table names, MERGE text, folders."""

from __future__ import annotations

import json

import pytest

from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.core.errors import OutputError
from beam_api_pipeline.outputs.bigquery_tables import avro_loadable, endpoint_table_id, merge_statement
from beam_api_pipeline.outputs.gcs import folder_for, window_date
from beam_api_pipeline.schemas.bigquery_schema import encode_json_columns, load_schema, normalize_fields, row_problems

FIELDS = normalize_fields(
    [
        {"name": "id", "type": "int64", "mode": "required"},
        {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        {"name": "user", "type": "STRUCT", "fields": [{"name": "age", "type": "INTEGER"}]},
        {"name": "payload", "type": "JSON"},
    ],
    "schema",
)


def test_normalize_fields_resolves_aliases_and_modes():
    assert FIELDS == [
        {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
        {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        {
            "name": "user",
            "type": "RECORD",
            "mode": "NULLABLE",
            "fields": [{"name": "age", "type": "INTEGER", "mode": "NULLABLE"}],
        },
        {"name": "payload", "type": "JSON", "mode": "NULLABLE"},
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([{"name": "a", "type": "TEXT"}], "schema.0.type: 'TEXT' is not a BigQuery type"),
        (
            [{"name": "a", "type": "STRING", "mode": "MAYBE"}],
            "schema.0.mode: 'MAYBE' is not one of NULLABLE, REQUIRED, REPEATED",
        ),
        ([{"name": "a", "type": "RECORD"}], "schema.0.fields: expected a non-empty list of fields"),
        ([{"type": "STRING"}], "schema.0: expected a field with a name and a type"),
        ([{"name": "a", "type": "STRING", "size": 3}], "schema.0.size: not a BigQuery field attribute"),
    ],
)
def test_bad_fields_are_named_by_path(fields, message):
    with pytest.raises(OutputError) as error:
        normalize_fields(fields, "schema")
    assert str(error.value) == message


def test_load_schema_reads_a_json_schema_file(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"fields": [{"name": "id", "type": "INTEGER"}]}))
    assert load_schema(str(path), "schema") == [{"name": "id", "type": "INTEGER", "mode": "NULLABLE"}]
    assert load_schema("auto", "schema") == "auto"
    with pytest.raises(OutputError, match=r"^schema: cannot read the JSON schema file .*missing\.json"):
        load_schema(str(tmp_path / "missing.json"), "schema")


def test_row_problems_name_each_field():
    assert row_problems({"id": 1, "tags": ["a"], "user": {"age": "7"}, "payload": {"x": 1}}, FIELDS) == []
    assert row_problems({"tags": "a", "user": {"age": "old"}, "extra": 1}, FIELDS) == [
        "extra: not in the table schema",
        "id: required, missing",
        "tags: expected a list (REPEATED), got 'a'",
        "user.age: expected an INTEGER, got 'old'",
    ]


def test_json_columns_are_encoded_as_text_at_any_depth():
    fields = normalize_fields(
        [
            {"name": "p", "type": "JSON"},
            {"name": "r", "type": "RECORD", "fields": [{"name": "j", "type": "JSON", "mode": "REPEATED"}]},
        ],
        "schema",
    )
    assert encode_json_columns({"p": {"a": [1]}, "r": {"j": [{"b": 2}, "[3]"]}}, fields) == {
        "p": '{"a":[1]}',
        "r": {"j": ['{"b":2}', "[3]"]},
    }


def test_table_names():
    table = TableName("p", "d", "t")
    assert (str(table), table.beam_spec, table.sql) == ("p.d.t", "p:d.t", "`p.d.t`")
    assert str(table.staging("20240101T000000Z-1A2b")) == "p.d.t__staging_20240101t000000z_1a2b"
    assert endpoint_table_id("raw_{endpoint}", "issues", 2) == "raw_issues"
    assert endpoint_table_id("raw", "issues", 2) == "raw_issues"
    assert endpoint_table_id("raw", "issues", 1) == "raw"


def test_table_names_are_parsed_in_every_full_form():
    assert TableName.parse("my-project.d.t") == TableName("my-project", "d", "t")
    assert TableName.parse("my-project:d.t") == TableName("my-project", "d", "t")
    domain_scoped = TableName.parse("example.com:my-project:d.t")
    assert domain_scoped == TableName("example.com:my-project", "d", "t")
    assert (str(domain_scoped), domain_scoped.beam_spec, domain_scoped.sql) == (
        "example.com:my-project.d.t",
        "example.com:my-project:d.t",
        "`example.com:my-project.d.t`",
    )
    for name in ("d.t", "my-project.d.t.x", "a:b.c.d"):
        with pytest.raises(ValueError) as caught:
            TableName.parse(name)
        assert str(caught.value) == "expected project.dataset.table or project:dataset.table"


def test_merge_statement_keeps_the_latest_row_per_key():
    sql = merge_statement(TableName("p", "d", "t"), TableName("p", "d", "s"), ["id", "v"], "id", "updated_at")
    assert sql == (
        "MERGE `p.d.t` T USING (SELECT * FROM `p.d.s` WHERE TRUE QUALIFY ROW_NUMBER() OVER "
        "(PARTITION BY `id` ORDER BY `updated_at` DESC) = 1) S ON T.`id` = S.`id` "
        "WHEN MATCHED AND S.`updated_at` >= T.`updated_at` THEN UPDATE SET `id` = S.`id`, `v` = S.`v` "
        "WHEN NOT MATCHED THEN INSERT (`id`, `v`) VALUES (S.`id`, S.`v`)"
    )


def test_gcs_folders_by_window_day():
    assert (
        window_date({"_window_start": "2024-01-02T00:00:00Z", "t": "2024-01-03T00:00:00Z"}, "t", "iso8601")
        == "2024-01-02"
    )
    assert window_date({"t": 1704240000}, "t", "epoch") == "2024-01-03"
    assert folder_for("b", "raw/{endpoint}/{window_date}/", "items", "2024-01-02") == "gs://b/raw/items/2024-01-02"
    assert folder_for("b", "", "items", "") == "gs://b"


@pytest.mark.parametrize(
    ("fields", "loadable"),
    [
        (FIELDS[:3], True),  # INTEGER, REPEATED STRING, a RECORD of INTEGER
        (FIELDS, False),  # a JSON column: Beam's Avro temp files have no type for it
        (normalize_fields([{"name": "d", "type": "DATETIME"}], "schema"), False),  # Beam writes it as plain text
        (normalize_fields([{"name": "n", "type": "BIGNUMERIC"}], "schema"), False),
        (
            normalize_fields(
                [
                    {"name": "r", "type": "RECORD", "fields": [{"name": "j", "type": "JSON"}]},
                    {"name": "t", "type": "DATE"},
                ],
                "schema",
            ),
            False,  # a JSON sub-field
        ),
        (
            normalize_fields(
                [
                    {"name": k, "type": k}
                    for k in ("STRING", "BYTES", "FLOAT", "NUMERIC", "BOOLEAN", "TIMESTAMP", "TIME")
                ],
                "schema",
            ),
            True,
        ),
    ],
)
def test_avro_loadable_only_with_every_column_of_a_type_beams_avro_temp_files_hold(fields, loadable):
    assert avro_loadable(fields) is loadable
