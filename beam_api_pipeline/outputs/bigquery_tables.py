"""BigQuery table names and the statements the output runs: pure functions, no client."""

from __future__ import annotations

import re
from dataclasses import dataclass

from beam_api_pipeline.bigquery_names import parse_table_name

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class TableName:
    """project.dataset.table (the project may be domain-scoped: `example.com:my-project`)."""

    project: str
    dataset: str
    table: str

    def __str__(self) -> str:
        return f"{self.project}.{self.dataset}.{self.table}"

    @classmethod
    def parse(cls, name: str) -> TableName:
        """`project.dataset.table` or `project:dataset.table`; ValueError for anything else."""
        project, dataset, table = parse_table_name(name)
        return cls(project, dataset, table)

    @property
    def beam_spec(self) -> str:
        """The `project:dataset.table` form WriteToBigQuery takes."""
        return f"{self.project}:{self.dataset}.{self.table}"

    @property
    def sql(self) -> str:
        """The quoted form for SQL."""
        return f"`{self}`"

    def staging(self, run_id: str) -> TableName:
        """The table one run loads into before its MERGE (merge mode)."""
        return TableName(self.project, self.dataset, f"{self.table}__staging_{_UNSAFE.sub('_', run_id).lower()}")


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
