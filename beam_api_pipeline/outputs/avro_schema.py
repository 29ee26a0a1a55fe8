"""The Avro schema of BigQuery fields (a pure function): the column types of an endpoint's Avro files."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.outputs.typed_rows import DECIMALS
from beam_api_pipeline.schemas.infer import Fields

#: The Avro type of each BigQuery type but RECORD (times as logical types); GEOGRAPHY, JSON, INTERVAL and RANGE
#: are text.
AVRO_TYPES: dict[str, Any] = {
    "STRING": "string",
    "BYTES": "bytes",
    "INTEGER": "long",
    "FLOAT": "double",
    **{
        kind: {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
        for kind, (precision, scale) in DECIMALS.items()
    },
    "BOOLEAN": "boolean",
    "TIMESTAMP": {"type": "long", "logicalType": "timestamp-micros"},
    "DATE": {"type": "int", "logicalType": "date"},
    "TIME": {"type": "long", "logicalType": "time-micros"},
    "DATETIME": {"type": "long", "logicalType": "local-timestamp-micros"},
    "GEOGRAPHY": "string",
    "JSON": "string",
    "INTERVAL": "string",
    "RANGE": "string",
}


def avro_schema(fields: Fields, name: str) -> dict[str, Any]:
    """`fields` (BigQuery JSON schema fields) as the Avro record `name`: a RECORD is a record named by its path
    (`<name>_<field>`: Avro names must be unique), REPEATED an array; a field that is not REQUIRED is a union
    with null, null by default."""
    return {"type": "record", "name": name, "fields": [_avro_field(field, name) for field in fields]}


def _avro_field(field: dict[str, Any], parent: str) -> dict[str, Any]:
    if field["type"] == "RECORD":
        kind: Any = avro_schema(field["fields"], f"{parent}_{field['name']}")
    else:
        kind = AVRO_TYPES[field["type"]]
    if field.get("mode") == "REPEATED":
        kind = {"type": "array", "items": kind}
    if field.get("mode") == "REQUIRED":
        return {"name": field["name"], "type": kind}
    return {"name": field["name"], "type": ["null", kind], "default": None}
