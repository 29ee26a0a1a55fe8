"""The BigQuery emulator as patched by `emulators.sh install` (tests/integration/bqemulator-schema-evolution.patch),
driven with the google-cloud-bigquery client: a table's schema grows as BigQuery documents it
(https://cloud.google.com/bigquery/docs/managing-table-schemas), and a load into a missing table is BigQuery's
404. Without the patch bqemulator 1.4.0 changes only its catalog on `tables.patch` (the next insertAll hangs),
does nothing on `ALTER TABLE ADD COLUMN`, ignores `schemaUpdateOptions` and fails a load into a missing table
with DuckDB's `Catalog Error`."""

from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.timeout(120)


def _schema(*specs: str):
    """SchemaFields from "name TYPE [MODE]" specs."""
    from google.cloud import bigquery

    fields = []
    for spec in specs:
        name, kind, *mode = spec.split()
        fields.append(bigquery.SchemaField(name, kind, mode=mode[0] if mode else "NULLABLE"))
    return fields


def _described(table) -> list[tuple]:
    def one(field):
        inner = tuple(one(sub) for sub in field.fields)
        return (field.name, field.field_type, field.mode, *((inner,) if inner else ()))

    return [one(field) for field in table.schema]


def _rows(bq, table: str) -> list[dict]:
    return [dict(row) for row in bq.query(f"SELECT * FROM `{table}` ORDER BY id").result()]


@pytest.fixture
def table(bq, project, dataset) -> str:
    from google.cloud import bigquery

    name = f"{project}.{dataset}.t"
    user = bigquery.SchemaField("user", "RECORD", fields=_schema("login STRING"))
    bq.create_table(bigquery.Table(name, schema=[*_schema("id INTEGER REQUIRED", "b STRING"), user]))
    bq.insert_rows_json(name, [{"id": 1, "b": "x", "user": {"login": "ann"}}])
    return name


def test_a_patch_adds_nullable_columns_and_sub_fields_and_the_next_insert_stores_them(bq, table):
    from google.cloud import bigquery

    current = bq.get_table(table)
    user = bigquery.SchemaField("user", "RECORD", fields=_schema("login STRING", "email STRING"))
    current.schema = [*_schema("id INTEGER", "b STRING"), user, *_schema("c INTEGER")]
    bq.update_table(current, ["schema"])

    assert _described(bq.get_table(table)) == [
        ("id", "INTEGER", "NULLABLE"),
        ("b", "STRING", "NULLABLE"),
        ("user", "RECORD", "NULLABLE", (("login", "STRING", "NULLABLE"), ("email", "STRING", "NULLABLE"))),
        ("c", "INTEGER", "NULLABLE"),
    ]
    errors = bq.insert_rows_json(table, [{"id": 2, "c": 7, "user": {"login": "bo", "email": "bo@x"}}], timeout=20)
    assert errors == []
    assert _rows(bq, table) == [
        {"id": 1, "b": "x", "user": {"login": "ann", "email": None}, "c": None},
        {"id": 2, "b": None, "user": {"login": "bo", "email": "bo@x"}, "c": 7},
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("required", "Cannot add required fields to an existing schema. (field: r)"),
        ("type", "Field b has changed type from STRING to INTEGER"),
        ("missing", "Field user is missing in new schema"),
    ],
)
def test_a_patch_bigquery_refuses_is_refused_and_changes_nothing(bq, table, change, message):
    from google.api_core.exceptions import BadRequest
    from google.cloud import bigquery

    before = _described(bq.get_table(table))
    current = bq.get_table(table)
    user = bigquery.SchemaField("user", "RECORD", fields=_schema("login STRING"))
    current.schema = {
        "required": [*_schema("id INTEGER REQUIRED", "b STRING"), user, *_schema("r STRING REQUIRED")],
        "type": [*_schema("id INTEGER REQUIRED", "b INTEGER"), user],
        "missing": _schema("id INTEGER REQUIRED", "b STRING"),
    }[change]

    with pytest.raises(BadRequest) as refused:
        bq.update_table(current, ["schema"])

    assert refused.value.message.endswith(f"Provided Schema does not match Table {_label(table)}. {message}")
    assert _described(bq.get_table(table)) == before


def _label(table: str) -> str:
    """`project:dataset.table`, as BigQuery names a table in its errors."""
    project, rest = table.split(".", 1)
    return f"{project}:{rest}"


def test_alter_table_add_column_adds_the_column(bq, table):
    bq.query(f"ALTER TABLE `{table}` ADD COLUMN c INT64").result()

    assert [f.name for f in bq.get_table(table).schema] == ["id", "b", "user", "c"]
    assert bq.get_table(table).schema[-1].mode == "NULLABLE"
    assert bq.insert_rows_json(table, [{"id": 2, "c": 5}], timeout=20) == []
    assert [(row["id"], row["c"]) for row in _rows(bq, table)] == [(1, None), (2, 5)]


def _load(bq, gcs, bucket, table, rows, schema, options=(), create="CREATE_IF_NEEDED", write="WRITE_APPEND"):
    """Load `rows` (JSON lines in the GCS emulator) into `table` with `schema` and `schemaUpdateOptions`."""
    from google.cloud import bigquery

    name = f"loads/{uuid.uuid4().hex}.json"
    gcs.bucket(bucket).blob(name).upload_from_string("".join(json.dumps(row) + "\n" for row in rows))
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=schema,
        schema_update_options=list(options),
        write_disposition=write,
        create_disposition=create,
    )
    return bq.load_table_from_uri(f"gs://{bucket}/{name}", table, job_config=config)


def test_a_load_with_field_addition_and_relaxation_extends_and_relaxes_the_table(bq, gcs, bucket, table):
    from google.cloud import bigquery

    user = bigquery.SchemaField("user", "RECORD", fields=_schema("login STRING", "email STRING"))
    schema = [*_schema("id INTEGER", "b STRING"), user, *_schema("c INTEGER")]
    rows = [{"id": 2, "c": 7, "user": {"login": "bo", "email": "bo@x"}}, {"id": None, "b": "no id"}]

    _load(bq, gcs, bucket, table, rows, schema, ["ALLOW_FIELD_ADDITION", "ALLOW_FIELD_RELAXATION"]).result()

    assert _described(bq.get_table(table)) == [
        ("id", "INTEGER", "NULLABLE"),
        ("b", "STRING", "NULLABLE"),
        ("user", "RECORD", "NULLABLE", (("login", "STRING", "NULLABLE"), ("email", "STRING", "NULLABLE"))),
        ("c", "INTEGER", "NULLABLE"),
    ]
    assert sorted(_rows(bq, table), key=lambda row: row["id"] or 0) == [
        {"id": None, "b": "no id", "user": None, "c": None},
        {"id": 1, "b": "x", "user": {"login": "ann", "email": None}, "c": None},
        {"id": 2, "b": None, "user": {"login": "bo", "email": "bo@x"}, "c": 7},
    ]


@pytest.mark.parametrize(
    ("schema_specs", "options", "message"),
    [
        (("id INTEGER REQUIRED", "b STRING", "c INTEGER"), (), "Cannot add fields (field: c)"),
        (("id INTEGER REQUIRED", "b STRING", "c INTEGER"), ("ALLOW_FIELD_RELAXATION",), "Cannot add fields (field: c)"),
        (("id INTEGER", "b STRING"), ("ALLOW_FIELD_ADDITION",), "Field id has changed mode from REQUIRED to NULLABLE"),
        (
            ("id INTEGER REQUIRED", "b INTEGER"),
            ("ALLOW_FIELD_ADDITION",),
            "Field b has changed type from STRING to INTEGER",
        ),
    ],
)
def test_a_load_without_the_option_is_refused_and_changes_nothing(
    bq, gcs, bucket, table, schema_specs, options, message
):
    before = _described(bq.get_table(table))

    job = _load(bq, gcs, bucket, table, [{"id": 2}], _schema(*schema_specs), options)

    with pytest.raises(Exception) as refused:
        job.result()
    assert job.error_result == {
        "reason": "invalid",
        "message": f"Provided Schema does not match Table {_label(table)}. {message}",
    }
    assert type(refused.value).__name__ == "BadRequest"
    assert _described(bq.get_table(table)) == before
    assert [row["id"] for row in _rows(bq, table)] == [1]


def test_a_load_into_a_missing_table_is_not_found(bq, gcs, bucket, project, dataset):
    from google.api_core.exceptions import NotFound

    missing = f"{project}.{dataset}.nope"
    job = _load(bq, gcs, bucket, missing, [{"id": 1}], _schema("id INTEGER"), create="CREATE_NEVER")

    with pytest.raises(NotFound):
        job.result()
    assert job.error_result == {"reason": "notFound", "message": f"Not found: Table {_label(missing)}"}


def test_a_truncating_load_takes_the_schema_of_the_load(bq, gcs, bucket, table):
    schema = _schema("id INTEGER", "b STRING", "c INTEGER")

    _load(bq, gcs, bucket, table, [{"id": 2, "c": 7}], schema, write="WRITE_TRUNCATE").result()

    assert [(f.name, f.mode) for f in bq.get_table(table).schema] == [
        ("id", "NULLABLE"),
        ("b", "NULLABLE"),
        ("user", "NULLABLE"),
        ("c", "NULLABLE"),
    ]
    assert _rows(bq, table) == [{"id": 2, "b": None, "user": None, "c": 7}]
