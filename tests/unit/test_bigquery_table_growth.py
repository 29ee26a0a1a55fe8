"""Which `schema` a BigQuery output's endpoint is written with, and whether its table grows with the rows:
`infer` by default under `schema_contract: evolve`, what the config says otherwise (pure: no table is read)."""

from __future__ import annotations

from typing import Any

import pytest

from beam_api_pipeline.core.errors import ConfigError, OutputError
from beam_api_pipeline.run.factory import PipelineFactory
from beam_api_pipeline.schemas.bigquery_schema import INFER
from tests.unit.test_columnar_config import output_problems
from tests.unit.test_outputs import BIGQUERY, config

FIELDS = [{"name": "id", "type": "INTEGER", "mode": "NULLABLE"}]


def output(contract: str = "evolve", streaming: bool = False, **settings: Any):
    endpoints = {"items": {"path": "/items", "primary_key": "id", "schema_contract": contract}}
    extra = {"streaming": {"enabled": True, "poll_interval": "5m"}} if streaming else {}
    made = config(endpoints, [{**BIGQUERY, "config": {**BIGQUERY["config"], **settings}}])
    made = type(made).model_validate(made.model_dump(by_alias=True) | extra)
    return PipelineFactory.output_of(made, 0, "run-1")


@pytest.mark.parametrize(
    ("contract", "settings", "schema", "grows"),
    [
        ("evolve", {}, INFER, True),
        ("evolve", {"method": "streaming_inserts"}, INFER, True),
        ("evolve", {"schema": None}, None, False),
        ("evolve", {"schema": FIELDS}, FIELDS, True),
        ("evolve", {"schema": "auto"}, "auto", False),
        ("evolve", {"method": "storage_write_api"}, None, False),
        ("freeze", {}, None, False),
        ("discard_row", {"schema": FIELDS}, FIELDS, False),
        ("discard_value", {"schema": "infer"}, INFER, True),
    ],
)
def test_the_schema_in_force_and_whether_the_table_grows(contract, settings, schema, grows):
    made = output(contract, **settings)
    assert (made._schema_of("items"), made._grows("items")) == (schema, grows)


def test_a_streaming_run_grows_its_tables_by_streaming_inserts():
    made = output(streaming=True, method="streaming_inserts")
    assert (made._schema_of("items"), made._grows("items")) == (INFER, True)


def test_schema_infer_is_refused_where_a_table_cannot_grow():
    with pytest.raises(ConfigError) as refused:
        output(method="storage_write_api", schema="infer")
    assert refused.value.problems == [
        "output.0: output (bigquery raw.events).config.schema: infer needs method file_loads or streaming_inserts"
    ]


def test_a_schema_left_to_the_default_stays_so_through_a_dump_and_back():
    from beam_api_pipeline.config.loading import dump_pipeline_config

    made = config({"items": {"path": "/items"}}, [BIGQUERY])
    again = type(made).model_validate(made.model_dump(by_alias=True))
    assert again.output[0].config.schema_given is False
    assert "schema:" not in dump_pipeline_config(made)
    explicit = config({"items": {"path": "/items"}}, [{**BIGQUERY, "config": {**BIGQUERY["config"], "schema": None}}])
    assert type(made).model_validate(explicit.model_dump(by_alias=True)).output[0].config.schema_given is True


def temp_files(contract: str, **settings: Any) -> str:
    """The format of `items`' load files (`BigQueryOutput._avro_loads`) as the output's write decides it."""
    made = output(contract, **settings)
    schema = made._schema_of("items")
    fields = schema if isinstance(schema, list) else None
    return "avro" if made._avro_loads("items", fields, made._grows("items")) else "json"


JSON_FIELDS = [*FIELDS, {"name": "doc", "type": "JSON", "mode": "NULLABLE"}]


@pytest.mark.parametrize(
    ("contract", "settings", "chosen"),
    [
        ("freeze", {"schema": FIELDS}, "json"),  # the default
        ("freeze", {"schema": FIELDS, "temp_file_format": "auto"}, "avro"),  # declared and fixed
        ("discard_row", {"schema": FIELDS, "temp_file_format": "avro"}, "avro"),
        ("evolve", {"schema": FIELDS, "temp_file_format": "auto"}, "json"),  # the table grows in the run
        ("evolve", {"temp_file_format": "auto"}, "json"),  # infer
        ("freeze", {"schema": JSON_FIELDS, "temp_file_format": "auto"}, "json"),  # Avro files have no JSON type
        ("freeze", {"schema": "auto", "temp_file_format": "auto"}, "json"),  # BigQuery detects the schema
    ],
)
def test_the_load_files_are_avro_where_temp_file_format_and_the_schema_allow(contract, settings, chosen):
    assert temp_files(contract, **settings) == chosen


@pytest.mark.parametrize(("contract", "schema"), [("evolve", FIELDS), ("freeze", JSON_FIELDS)])
def test_temp_file_format_avro_is_refused_where_avro_files_cannot_hold_the_rows(contract, schema):
    with pytest.raises(OutputError) as refused:
        temp_files(contract, schema=schema, temp_file_format="avro")
    assert str(refused.value) == (
        "output (bigquery raw.events).config.temp_file_format: avro needs a declared schema that endpoint items's "
        "run does not extend (schema_contract freeze, discard_row or discard_value) and no JSON, BIGNUMERIC, "
        "DATETIME, INTERVAL or RANGE column; set auto or json"
    )


def test_temp_file_format_other_than_json_is_refused_without_file_loads(tmp_path):
    settings = {**BIGQUERY["config"], "method": "streaming_inserts", "temp_file_format": "auto"}
    assert output_problems(tmp_path, {"type": "bigquery", "config": settings}) == [
        "output.0.config.temp_file_format: auto is for method file_loads; streaming_inserts writes no temp files"
    ]
