"""The BigQuery schema `init --openapi` declares from an endpoint's record schema."""

from __future__ import annotations

import pytest
import yaml
from openapi_specs import generated, spec_and_endpoints
from test_openapi_real_specs import EXPECTED

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.openapi.render import bigquery_fields
from beam_api_pipeline.schemas.bigquery_schema import normalize_fields

ORDER = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "integer"},
        "total": {"type": ["number", "null"]},
        "paid": {"type": "boolean"},
        "updated_at": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "customer": {
            "allOf": [{"properties": {"id": {"type": "string"}}}, {"properties": {"vip": {"type": "boolean"}}}]
        },
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "@type": {"type": "string"},
    },
}


def test_each_json_type_has_its_bigquery_column():
    assert bigquery_fields(ORDER) == [
        {"name": "id", "type": "INTEGER", "mode": "NULLABLE"},
        {"name": "total", "type": "FLOAT", "mode": "NULLABLE"},
        {"name": "paid", "type": "BOOLEAN", "mode": "NULLABLE"},
        {"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"},
        {"name": "day", "type": "DATE", "mode": "NULLABLE"},
        {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        {
            "name": "lines",
            "type": "RECORD",
            "mode": "REPEATED",
            "fields": [{"name": "sku", "type": "STRING", "mode": "NULLABLE"}],
        },
        {"name": "metadata", "type": "JSON", "mode": "NULLABLE"},  # an object without properties
        {
            "name": "customer",
            "type": "RECORD",
            "mode": "NULLABLE",
            "fields": [
                {"name": "id", "type": "STRING", "mode": "NULLABLE"},
                {"name": "vip", "type": "BOOLEAN", "mode": "NULLABLE"},
            ],
        },
        {"name": "either", "type": "JSON", "mode": "NULLABLE"},  # a string or an integer
        {"name": "grid", "type": "JSON", "mode": "REPEATED"},  # a list of lists
    ]  # `@type` is no BigQuery column name: left out


@pytest.mark.parametrize(("document", "path"), list(EXPECTED), ids=[f"{d}:{p}" for d, p in EXPECTED])
def test_the_schema_of_each_table_endpoint_is_one_bigquery_takes(document, path):
    _, endpoints = spec_and_endpoints(document)
    fields = bigquery_fields(next(endpoint for endpoint in endpoints if endpoint.path == path).record_schema)
    assert fields and normalize_fields(fields, "schema") == fields


def test_a_single_endpoint_file_declares_its_schema_and_validates(tmp_path):
    config = generated("stripe", "/v1/charges")
    schema = config["output"][1]["config"]["schema"]
    assert [field["name"] for field in schema][:6] == [
        "amount",
        "amount_captured",
        "amount_refunded",
        "application",
        "application_fee",
        "application_fee_amount",
    ]
    assert {
        field["name"]: field["type"] for field in schema if field["name"] in ("id", "created", "paid", "metadata")
    } == {
        "id": "STRING",
        "created": "INTEGER",
        "paid": "BOOLEAN",
        "metadata": "JSON",
    }
    path = tmp_path / "stripe.yaml"
    path.write_text(yaml.safe_dump(config))
    loaded = load_pipeline_config(str(path))
    assert (list(loaded.api_config.endpoints), loaded.output[1].config.table_schema) == (["charges"], schema)
