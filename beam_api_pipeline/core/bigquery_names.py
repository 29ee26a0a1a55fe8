"""The one rule for BigQuery table names, wherever a table is named (template parameters, config, outputs).

A name is `project.dataset.table` or `project:dataset.table` (the form the Dataflow console and `bq` give);
where a default project applies, `dataset.table` too. A project is a project ID (6 to 30 lowercase letters,
digits and hyphens, starting with a letter and not ending with a hyphen), possibly domain-scoped
(`example.com:my-project`); a dataset is letters, digits and underscores; a table also allows hyphens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

_PROJECT = r"([a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]"
_DATASET = r"[A-Za-z0-9_]{1,1024}"
_TABLE = r"[A-Za-z0-9_-]{1,1024}"
#: A table name in which `{endpoint}` stands for each endpoint's name (an output's `table_id`).
_ENDPOINT_TABLE = r"([A-Za-z0-9_-]|\{endpoint\})+"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")

#: The forms of a name, for messages.
FULL_FORMS = "project.dataset.table or project:dataset.table"
ALL_FORMS = "project.dataset.table, project:dataset.table or dataset.table"


class TableParts(NamedTuple):
    """The parts of a table name; `project` is None when the name has none."""

    project: str | None
    dataset: str
    table: str


def table_name_regex(*, project_optional: bool = False, endpoint_template: bool = False) -> str:
    """The regex of the names `parse_table_name` reads with these options, without anchors, in the syntax
    Python and Java share (metadata.json gives it to Dataflow)."""
    project = f"({_PROJECT}[.:])?" if project_optional else f"{_PROJECT}[.:]"
    return rf"{project}{_DATASET}\.{_ENDPOINT_TABLE if endpoint_template else _TABLE}"


def parse_table_name(name: str, *, project_optional: bool = False, endpoint_template: bool = False) -> TableParts:
    """The parts of `name`: `project.dataset.table` or `project:dataset.table`; also `dataset.table` when
    `project_optional`, and `{endpoint}` in the table when `endpoint_template`. ValueError for anything else."""
    if not re.fullmatch(table_name_regex(project_optional=project_optional, endpoint_template=endpoint_template), name):
        raise ValueError(f"expected {ALL_FORMS if project_optional else FULL_FORMS}")
    rest, _, table = name.rpartition(".")
    cut = max(rest.rfind("."), rest.rfind(":"))  # the dataset holds neither; a domain-scoped project holds both
    return TableParts(rest[:cut] if cut >= 0 else None, rest[cut + 1 :], table)


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
