"""BigQuery table names and the statements the output runs: pure functions, no client."""

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
