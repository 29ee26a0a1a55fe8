"""The pyarrow schema of BigQuery fields (a pure function): the column types of an endpoint's Parquet files."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from beam_api_pipeline.outputs.typed_rows import DECIMALS
from beam_api_pipeline.schemas.infer import Fields

#: The Arrow type of each BigQuery type but RECORD; GEOGRAPHY, JSON, INTERVAL and RANGE are text.
ARROW_TYPES: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "BYTES": pa.binary(),
    "INTEGER": pa.int64(),
    "FLOAT": pa.float64(),
    "NUMERIC": pa.decimal128(*DECIMALS["NUMERIC"]),
    "BIGNUMERIC": pa.decimal256(*DECIMALS["BIGNUMERIC"]),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "DATETIME": pa.timestamp("us"),
    "GEOGRAPHY": pa.string(),
    "JSON": pa.string(),
    "INTERVAL": pa.string(),
    "RANGE": pa.string(),
}


def arrow_schema(fields: Fields) -> pa.Schema:
    """`fields` (BigQuery JSON schema fields) as a pyarrow schema: a RECORD is a struct, REPEATED a list, only
    REQUIRED is not nullable."""
    return pa.schema([arrow_field(field) for field in fields])


def arrow_field(field: dict[str, Any]) -> pa.Field:
    """One BigQuery field as a pyarrow field."""
    if field["type"] == "RECORD":
        kind = pa.struct([arrow_field(inner) for inner in field["fields"]])
    else:
        kind = ARROW_TYPES[field["type"]]
    if field.get("mode") == "REPEATED":
        kind = pa.list_(kind)
    return pa.field(field["name"], kind, nullable=field.get("mode") != "REQUIRED")
