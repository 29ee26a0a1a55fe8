"""BigQuery table names, the statements the output runs and the format of its load files: pure functions, no
client."""

from __future__ import annotations

from beam_api_pipeline.core.bigquery_names import TableName


def endpoint_table_id(table_id: str, endpoint: str, endpoint_count: int) -> str:
    """`table_id` for one endpoint: `{endpoint}` replaced; with several endpoints and no `{endpoint}`,
    `<table_id>_<endpoint>`, so that each endpoint has its own table."""
    if "{endpoint}" in table_id:
        return table_id.replace("{endpoint}", endpoint)
    return f"{table_id}_{endpoint}" if endpoint_count > 1 else table_id


def _column(path: str) -> str:
    return ".".join(f"`{part}`" for part in path.split("."))


def merge_statement(target: TableName, staging: TableName, columns: list[str], key: str, timestamp: str) -> str:
    """One MERGE of `staging` into `target` on `key`: per key the staged row with the latest `timestamp`
    wins, and it replaces the target's row only if it is not older than it."""
    assignments = ", ".join(f"{_column(c)} = S.{_column(c)}" for c in columns)
    names = ", ".join(_column(c) for c in columns)
    values = ", ".join(f"S.{_column(c)}" for c in columns)
    return (
        f"MERGE {target.sql} T USING ("
        f"SELECT * FROM {staging.sql} WHERE TRUE "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {_column(key)} ORDER BY {_column(timestamp)} DESC) = 1) S "
        f"ON T.{_column(key)} = S.{_column(key)} "
        f"WHEN MATCHED AND S.{_column(timestamp)} >= T.{_column(timestamp)} THEN UPDATE SET {assignments} "
        f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
    )


def missing_table_message(where: str, table: TableName) -> str:
    """The one line a run stops with, before its first request, when `table` does not exist and `schema: null`
    (CREATE_NEVER) leaves nothing to make it."""
    return (
        f"{where}: the table {table} does not exist and schema is null (the table must exist); create it, or set "
        "schema to infer (made from the rows' inferred schema), auto (BigQuery's schema detection, file_loads) "
        "or a list of fields"
    )


#: The column types Beam's Avro temp files (`bigquery_avro_tools`) hold as BigQuery reads them back: TIMESTAMP, DATE
#: and TIME as Avro logical types, NUMERIC as a decimal of 38 digits, 9 after the point. Beam has no Avro type for
#: JSON, BIGNUMERIC, INTERVAL or RANGE, and writes DATETIME as plain text.
AVRO_LOAD_TYPES = frozenset(
    {"STRING", "BYTES", "INTEGER", "FLOAT", "NUMERIC", "BOOLEAN", "TIMESTAMP", "DATE", "TIME", "GEOGRAPHY", "RECORD"}
)


def avro_loadable(fields: list[dict]) -> bool:
    """Whether rows of `fields` (normalized) can be loaded from Beam's Avro temp files: every column, nested ones
    too, of a type in AVRO_LOAD_TYPES."""
    return all(
        field["type"] in AVRO_LOAD_TYPES and (field["type"] != "RECORD" or avro_loadable(field["fields"]))
        for field in fields
    )
