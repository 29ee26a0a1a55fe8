"""A BigQuery table that grows with the rows (`schema: infer`, `schema_contract: evolve`): made from the rows'
inferred schema when missing, and given the columns of new fields (NULLABLE, RECORD sub-fields too) as BigQuery
documents it: a load's `schemaUpdateOptions`, `tables.patch` before a streaming insert, the target of a MERGE
patched before the statement. A column keeps its type and mode (`schemas.infer.extended_fields`): a value of
another type is the contract's to refuse, and BigQuery's."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import apache_beam as beam

from beam_api_pipeline.core.bigquery_names import TableName
from beam_api_pipeline.gcp.clients import bigquery_client
from beam_api_pipeline.schemas.bigquery_schema import encode_json_columns, normalize_fields
from beam_api_pipeline.schemas.contract import HeldSchema
from beam_api_pipeline.schemas.infer import Fields, extended_fields, observed_fields, schema_changes

logger = logging.getLogger(__name__)

#: A load's parameters under evolution: unknown values are ignored (a column seen only as null is not given one
#: until a value comes, `schemas.infer.extended_fields`), and, appending, `schemaUpdateOptions` (BigQuery refuses
#: them with WRITE_TRUNCATE of a whole table, whose schema the load replaces).
EVOLVING_LOAD = {"ignoreUnknownValues": True}
EVOLVING_APPEND = {**EVOLVING_LOAD, "schemaUpdateOptions": ["ALLOW_FIELD_ADDITION", "ALLOW_FIELD_RELAXATION"]}
STAGING_EXPIRY_HOURS = 24
#: How many times a patch is tried again when another writer changed the table meanwhile.
_PATCH_ATTEMPTS = 5


def table_fields(table) -> Fields:
    """A google-cloud-bigquery Table's schema as normalized fields."""

    def field(schema_field) -> dict[str, Any]:
        entry = {"name": schema_field.name, "type": schema_field.field_type, "mode": schema_field.mode or "NULLABLE"}
        if schema_field.fields:
            entry["fields"] = [field(inner) for inner in schema_field.fields]
        return entry

    return normalize_fields([field(f) for f in table.schema], str(table.reference)) if table.schema else []


def new_table(name: TableName, fields: Fields, partition_field: str | None, clustering_fields: list[str]):
    """A google-cloud-bigquery Table of `fields`, day-partitioned and clustered as configured."""
    from google.cloud import bigquery

    table = bigquery.Table(str(name), schema=[bigquery.SchemaField.from_api_repr(f) for f in fields])
    if partition_field:
        table.time_partitioning = bigquery.TimePartitioning(field=partition_field)
    if clustering_fields:
        table.clustering_fields = list(clustering_fields)
    return table


def grown(client, name: TableName, observed: Fields) -> Fields:
    """Give the existing table `name` the columns `observed` (inferred fields) adds to its schema, by
    `tables.patch` (read again and retried when another writer patched it meanwhile); its fields after."""
    from google.api_core.exceptions import PreconditionFailed
    from google.cloud import bigquery

    for _ in range(_PATCH_ATTEMPTS):
        table = client.get_table(str(name))
        current = table_fields(table)
        wanted = extended_fields(current, observed)
        if wanted == current:
            return current
        table.schema = [bigquery.SchemaField.from_api_repr(f) for f in wanted]
        try:
            client.update_table(table, ["schema"])
        except PreconditionFailed:
            continue
        logger.info("table %s: %s", name, "; ".join(schema_changes(current, wanted)))
        return wanted
    raise RuntimeError(f"table {name}: other writers kept changing its schema; {_PATCH_ATTEMPTS} attempts")


def evolved_fields(client, name: TableName, base: Fields, observed: Fields) -> Fields:
    """The fields of a load into `name`: its schema (`base`, a declared schema, when it does not exist yet)
    extended by `observed` (the run's rows)."""
    from google.api_core.exceptions import NotFound

    try:
        current = table_fields(client.get_table(str(name)))
    except NotFound:
        current = base
    return extended_fields(current, observed)


class LoadSchemaFn(beam.DoFn):
    """In: the run's inferred fields of one endpoint (merged over its batches). Out: the schema its load jobs
    carry: the target table's schema (or `base`) extended by them."""

    def __init__(self, target: TableName, base: Fields):
        self._target = target
        self._base = base

    def process(self, observed: Fields) -> Iterator[Fields]:
        client = bigquery_client(self._target.project)
        try:
            yield evolved_fields(client, self._target, self._base, observed)
        finally:
            client.close()


def evolved_load_schema(_destination: Any, fields: Fields | None) -> dict[str, Any] | None:
    """WriteToBigQuery's `schema` callable: the side input LoadSchemaFn made (None: no rows, no load)."""
    return {"fields": fields} if fields is not None else None


class GrowTableFn(beam.DoFn):
    """Rows in, rows out (JSON columns as text, as streaming inserts take them): before the first row that has a
    field the table lacks, the table gains its column (`grown`); a missing table is made from `base` (a declared
    schema, or none) extended by the first row's fields, partitioned and clustered as configured (a `staging`
    table expires after STAGING_EXPIRY_HOURS)."""

    def __init__(
        self,
        table: TableName,
        base: Fields,
        timestamp_columns: frozenset[str],
        partition_field: str | None = None,
        clustering_fields: list[str] | None = None,
        staging: bool = False,
    ):
        self._table = table
        self._base = base
        self._timestamp_columns = timestamp_columns
        self._partition_field = partition_field
        self._clustering_fields = clustering_fields or []
        self._staging = staging

    def setup(self) -> None:
        self._client = bigquery_client(self._table.project)
        self._fields: Fields | None = None
        self._held: HeldSchema | None = None

    def teardown(self) -> None:
        self._client.close()

    def process(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if self._fields is None:
            self._use(self._existing_or_made(row))
        if not self._held.fits_by_shape(row) and any(d.kind == "new_field" for d in self._held.differences(row)):
            self._use(grown(self._client, self._table, observed_fields([row], self._timestamp_columns)))
        yield encode_json_columns(row, self._fields)

    def _use(self, fields: Fields) -> None:
        self._fields = fields
        self._held = HeldSchema(fields)

    def _existing_or_made(self, row: dict[str, Any]) -> Fields:
        from google.api_core.exceptions import NotFound

        try:
            return table_fields(self._client.get_table(str(self._table)))
        except NotFound:
            pass
        fields = extended_fields(self._base, observed_fields([row], self._timestamp_columns))
        table = new_table(self._table, fields, self._partition_field, self._clustering_fields)
        if self._staging:
            table.expires = datetime.now(UTC) + timedelta(hours=STAGING_EXPIRY_HOURS)
        self._client.create_table(table, exists_ok=True)
        logger.info("table %s: made from the rows: %s", self._table, "; ".join(schema_changes(None, fields)))
        return table_fields(self._client.get_table(str(self._table)))


def raced_the_patch(errors: list[dict[str, Any]]) -> bool:
    """Whether BigQuery refused a streamed row only for fields it does not know yet (`no such field`): after a
    `tables.patch`, streaming inserts may not see the new columns for a while."""
    return bool(errors) and all(
        error.get("reason") == "invalid" and "no such field" in error.get("message", "") for error in errors
    )


class InsertAgainFn(beam.DoFn):
    """`(table, row, errors)` of rows a streaming insert refused in, those still refused out. A row that raced
    its table's patch (`raced_the_patch`) is inserted again, up to `attempts` times, waiting `first_wait`
    seconds and twice as long each time (`sleep`: injected in tests); the others pass as they are."""

    def __init__(self, attempts: int = 6, first_wait: float = 2.0, sleep: Callable[[float], None] = time.sleep):
        self._attempts = attempts
        self._first_wait = first_wait
        self._sleep = sleep

    def setup(self) -> None:
        self._clients: dict[str, Any] = {}

    def teardown(self) -> None:
        for client in self._clients.values():
            client.close()

    def process(self, refused: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> Iterator[tuple]:
        table, row, errors = refused
        wait = self._first_wait
        for _ in range(self._attempts):
            if not raced_the_patch(errors):
                break
            self._sleep(wait)
            wait *= 2
            name = TableName.parse(table)
            client = self._clients.setdefault(name.project, bigquery_client(name.project))
            answer = client.insert_rows_json(str(name), [row])
            if not answer:
                return
            errors = answer[0]["errors"]
        yield table, row, errors
