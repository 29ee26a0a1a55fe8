"""The columns of Parquet and Avro files (`outputs.arrow_schema`, `outputs.avro_schema`) from BigQuery fields, the
typed values of a row (`outputs.typed_rows`), and whole files encoded and read back (`outputs.columnar.encode_file`),
as pure functions."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time
from decimal import Decimal

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam_api_pipeline.outputs.arrow_schema import arrow_schema
from beam_api_pipeline.outputs.avro_schema import avro_schema
from beam_api_pipeline.outputs.columnar import avro_name, encode_file, run_fields
from beam_api_pipeline.outputs.typed_rows import ValueMismatch, typed_row

#: (BigQuery type, Arrow type, Avro type) of every type but RECORD.
TYPES = [
    ("STRING", pa.string(), "string"),
    ("BYTES", pa.binary(), "bytes"),
    ("INTEGER", pa.int64(), "long"),
    ("FLOAT", pa.float64(), "double"),
    ("NUMERIC", pa.decimal128(38, 9), {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 9}),
    ("BIGNUMERIC", pa.decimal256(76, 38), {"type": "bytes", "logicalType": "decimal", "precision": 76, "scale": 38}),
    ("BOOLEAN", pa.bool_(), "boolean"),
    ("TIMESTAMP", pa.timestamp("us", tz="UTC"), {"type": "long", "logicalType": "timestamp-micros"}),
    ("DATE", pa.date32(), {"type": "int", "logicalType": "date"}),
    ("TIME", pa.time64("us"), {"type": "long", "logicalType": "time-micros"}),
    ("DATETIME", pa.timestamp("us"), {"type": "long", "logicalType": "local-timestamp-micros"}),
    ("GEOGRAPHY", pa.string(), "string"),
    ("JSON", pa.string(), "string"),
    ("INTERVAL", pa.string(), "string"),
    ("RANGE", pa.string(), "string"),
]

#: Nested and repeated fields: a record with a repeated record inside, a repeated timestamp, a required column.
NESTED = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "tags", "type": "STRING", "mode": "REPEATED"},
    {"name": "seen", "type": "TIMESTAMP", "mode": "REPEATED"},
    {
        "name": "user",
        "type": "RECORD",
        "mode": "NULLABLE",
        "fields": [
            {"name": "login", "type": "STRING", "mode": "NULLABLE"},
            {
                "name": "orgs",
                "type": "RECORD",
                "mode": "REPEATED",
                "fields": [{"name": "name", "type": "STRING", "mode": "NULLABLE"}],
            },
        ],
    },
]


@pytest.mark.parametrize(("kind", "arrow", "avro"), TYPES, ids=[kind for kind, _, _ in TYPES])
def test_each_bigquery_type_has_its_arrow_and_avro_type(kind, arrow, avro):
    fields = [{"name": "x", "type": kind, "mode": "NULLABLE"}]
    assert arrow_schema(fields) == pa.schema([pa.field("x", arrow, nullable=True)])
    assert avro_schema(fields, "items") == {
        "type": "record",
        "name": "items",
        "fields": [{"name": "x", "type": ["null", avro], "default": None}],
    }


def test_records_are_structs_and_named_records_repeated_fields_lists_and_required_not_nullable():
    assert arrow_schema(NESTED) == pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("seen", pa.list_(pa.timestamp("us", tz="UTC"))),
            pa.field("user", pa.struct([pa.field("login", pa.string()), pa.field("orgs", orgs_arrow())])),
        ]
    )
    assert avro_schema(NESTED, "items") == {
        "type": "record",
        "name": "items",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "tags", "type": ["null", {"type": "array", "items": "string"}], "default": None},
            {
                "name": "seen",
                "type": ["null", {"type": "array", "items": {"type": "long", "logicalType": "timestamp-micros"}}],
                "default": None,
            },
            {
                "name": "user",
                "type": [
                    "null",
                    {
                        "type": "record",
                        "name": "items_user",
                        "fields": [
                            {"name": "login", "type": ["null", "string"], "default": None},
                            {
                                "name": "orgs",
                                "type": [
                                    "null",
                                    {
                                        "type": "array",
                                        "items": {
                                            "type": "record",
                                            "name": "items_user_orgs",
                                            "fields": [{"name": "name", "type": ["null", "string"], "default": None}],
                                        },
                                    },
                                ],
                                "default": None,
                            },
                        ],
                    },
                ],
                "default": None,
            },
        ],
    }


def orgs_arrow() -> pa.DataType:
    return pa.list_(pa.struct([pa.field("name", pa.string())]))


def test_an_endpoint_name_becomes_an_avro_name():
    assert [avro_name(name) for name in ["items", "pull-requests", "2024 events", "naïve"]] == [
        "items",
        "pull_requests",
        "_2024_events",
        "na_ve",
    ]


NESTED_ROW = {
    "id": "7",
    "tags": ["a", "b"],
    "seen": ["2024-01-02T03:04:05.123456Z", 1704164645],
    "user": {"login": "ana", "orgs": [{"name": "acme"}, {"name": None}]},
    "gone": None,
}
NESTED_TYPED = {
    "id": 7,
    "tags": ["a", "b"],
    "seen": [datetime(2024, 1, 2, 3, 4, 5, 123456, UTC), datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)],
    "user": {"login": "ana", "orgs": [{"name": "acme"}, {"name": None}]},
}


def test_a_row_takes_the_values_of_its_columns_types_and_leaves_out_nulls_the_schema_lacks():
    assert typed_row(NESTED_ROW, NESTED, {}) == NESTED_TYPED


def test_each_type_reads_the_json_values_bigquery_takes():
    fields = [{"name": kind.lower(), "type": kind, "mode": "NULLABLE"} for kind, _, _ in TYPES]
    row = {
        "string": 12,
        "bytes": "aGk=",
        "integer": "-5",
        "float": 2,
        "numeric": "1.25",
        "bignumeric": 3,
        "boolean": "TRUE",
        "timestamp": "2024-01-02T00:00:00+01:00",
        "date": "2024-01-02",
        "time": "12:30:00.5",
        "datetime": "2024-01-02T12:30:00",
        "geography": "POINT(1 2)",
        "json": {"a": [1, None]},
        "interval": "1-2 3 4:5:6",
        "range": "[2024-01-01, 2024-02-01)",
    }
    assert typed_row(row, fields, {}) == {
        "string": "12",
        "bytes": b"hi",
        "integer": -5,
        "float": 2.0,
        "numeric": Decimal("1.25"),
        "bignumeric": Decimal(3),
        "boolean": True,
        "timestamp": datetime(2024, 1, 1, 23, 0, tzinfo=UTC),
        "date": date(2024, 1, 2),
        "time": time(12, 30, 0, 500000),
        "datetime": datetime(2024, 1, 2, 12, 30),
        "geography": "POINT(1 2)",
        "json": '{"a":[1,null]}',
        "interval": "1-2 3 4:5:6",
        "range": "[2024-01-01, 2024-02-01)",
    }


def test_the_watermark_column_is_read_in_its_time_format():
    fields = [{"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"}]
    typed = typed_row({"updated_at": 1704153600000}, fields, {"updated_at": "epoch_ms"})
    assert typed == {"updated_at": datetime(2024, 1, 2, tzinfo=UTC)}


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (
            {"id": 1, "user": {"login": "a", "orgs": [{"name": {"x": 1}}]}},
            "user.orgs.name: expected a STRING, got {'x': 1}",
        ),
        ({"id": "v550"}, "id: expected an INTEGER, got 'v550'"),
        ({"id": 2**63}, "id: expected an INTEGER, got 9223372036854775808"),
        ({"tags": ["a"]}, "id: required, missing"),
        ({"id": 1, "tags": "a"}, "tags: expected a list (REPEATED), got 'a'"),
        ({"id": 1, "seen": ["soon"]}, "seen: expected a TIMESTAMP, got 'soon'"),
        ({"id": 1, "user": {"login": "a", "email": "a@b"}}, "user.email: not in the schema, got 'a@b'"),
        ({"id": 1, "user": "ana"}, "user: expected a RECORD (an object), got 'ana'"),
    ],
    ids=["nested", "integer", "int64-range", "required", "repeated", "timestamp", "unknown-field", "record"],
)
def test_a_value_its_column_does_not_take_is_an_error_naming_it(row, error):
    with pytest.raises(ValueMismatch) as caught:
        typed_row(row, NESTED, {})
    assert str(caught.value) == error


SCALARS = [{"name": kind.lower(), "type": kind, "mode": "NULLABLE"} for kind, _, _ in TYPES]


@pytest.mark.parametrize(
    ("column", "value", "error"),
    [
        ("numeric", "1.1234567891", "numeric: expected a NUMERIC, got '1.1234567891'"),  # never rounded
        ("numeric", 10**29, "numeric: expected a NUMERIC, got 100000000000000000000000000000"),
        ("numeric", "NaN", "numeric: expected a NUMERIC, got 'NaN'"),
        ("bignumeric", "1e38", "bignumeric: expected a BIGNUMERIC, got '1e38'"),
        ("bytes", "not base64!", "bytes: expected a BYTES, got 'not base64!'"),
        ("date", "2024-02-30", "date: expected a DATE, got '2024-02-30'"),
        ("time", "12:00:00+01:00", "time: expected a TIME, got '12:00:00+01:00'"),
        ("boolean", "yes", "boolean: expected a BOOLEAN, got 'yes'"),
        ("timestamp", 1704153600000, "timestamp: expected a TIMESTAMP, got 1704153600000"),  # ms, not seconds
    ],
)
def test_a_value_that_does_not_fit_its_type_is_refused_never_rounded(column, value, error):
    with pytest.raises(ValueMismatch) as caught:
        typed_row({column: value}, SCALARS, {})
    assert str(caught.value) == error


@pytest.mark.parametrize("file_format", ["parquet", "avro"])
def test_the_widest_decimals_round_trip(file_format):
    row = {
        "numeric": "-99999999999999999999999999999.999999999",
        "bignumeric": "99999999999999999999999999999999999999.99999999999999999999999999999999999999",
    }
    typed = typed_row(row, SCALARS, {})
    contents = encode_file([typed], SCALARS, file_format, "items")
    [read] = (_read_parquet if file_format == "parquet" else _read_avro)(contents)[1]
    assert (read["numeric"], read["bignumeric"]) == (Decimal(row["numeric"]), Decimal(row["bignumeric"]))


def test_the_columns_are_the_schema_before_extended_by_what_the_rows_showed():
    before = [{"name": "id", "type": "INTEGER", "mode": "NULLABLE"}]
    observed = {
        "items": [
            {"name": "id", "type": "STRING", "mode": "NULLABLE"},
            {"name": "c", "type": "INTEGER", "mode": "NULLABLE"},
        ]
    }
    assert run_fields(before, observed, "items") == [*before, {"name": "c", "type": "INTEGER", "mode": "NULLABLE"}]
    assert run_fields(before, observed, "other") == before


def _read_parquet(contents: bytes) -> tuple[pa.Schema, list[dict]]:
    table = pq.read_table(io.BytesIO(contents))
    return table.schema, table.to_pylist()


def _read_avro(contents: bytes) -> tuple[dict, list[dict]]:
    reader = fastavro.reader(io.BytesIO(contents))
    return reader.writer_schema, list(reader)


def test_a_parquet_file_holds_nested_and_repeated_values_exactly():
    other = {"id": 8, "tags": [], "seen": None, "user": None}
    schema, rows = _read_parquet(encode_file([NESTED_TYPED, other], NESTED, "parquet", "items"))
    assert schema == arrow_schema(NESTED)
    assert rows == [NESTED_TYPED, other]


def test_an_avro_file_holds_nested_and_repeated_values_exactly():
    other = {"id": 8, "tags": [], "seen": None, "user": None}
    schema, rows = _read_avro(encode_file([NESTED_TYPED, other], NESTED, "avro", "pull-requests"))
    assert schema["name"] == "pull_requests"
    assert rows == [NESTED_TYPED, other]


@pytest.mark.parametrize("file_format", ["parquet", "avro"])
def test_every_type_round_trips(file_format):
    fields = [{"name": kind.lower(), "type": kind, "mode": "NULLABLE"} for kind, _, _ in TYPES]
    row = {
        "string": "s",
        "bytes": b"\x00\xff",
        "integer": -(2**63),
        "float": 0.1,
        "numeric": Decimal("123456789.123456789"),
        "bignumeric": Decimal("1.5"),
        "boolean": False,
        "timestamp": datetime(2024, 1, 2, 3, 4, 5, 6, UTC),
        "date": date(2024, 2, 29),
        "time": time(23, 59, 59, 999999),
        "datetime": datetime(2024, 1, 2, 3, 4, 5, 6),
        "geography": "POINT(1 2)",
        "json": '{"a":1}',
        "interval": "1-2",
        "range": "[1, 2)",
    }
    contents = encode_file([row], fields, file_format, "items")
    [read] = (_read_parquet if file_format == "parquet" else _read_avro)(contents)[1]
    assert read == row
