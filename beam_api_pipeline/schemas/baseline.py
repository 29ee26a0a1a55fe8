"""The schema each endpoint's rows are held to in a run (`schema_contract`): the latest version recorded in the
schema history, else the schema a BigQuery output declares; and the columns inferred as TIMESTAMP."""

from __future__ import annotations

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.api import METADATA_TIMES
from beam_api_pipeline.config.outputs import BigQueryOutputConfig
from beam_api_pipeline.schemas.bigquery_schema import load_schema
from beam_api_pipeline.schemas.infer import Fields


def declared_fields(config: PipelineConfig) -> Fields | None:
    """The first enabled BigQuery output's declared schema (a list of fields), if any."""
    for index, output in config.enabled_outputs():
        if isinstance(output, BigQueryOutputConfig):
            schema = load_schema(output.config.table_schema, f"output.{index}.config.schema")
            if isinstance(schema, list):
                return schema
    return None


def baseline_schemas(config: PipelineConfig, store) -> dict[str, Fields]:
    """Per endpoint, the fields its rows are held to; an endpoint with neither a recorded nor a declared schema
    is left out (its first run records what it finds)."""
    declared = declared_fields(config)
    baselines = {}
    for endpoint in config.api_config.endpoints:
        latest = store.latest_schema(config.pipeline_id, endpoint)
        fields = latest.fields if latest is not None else declared
        if fields is not None:
            baselines[endpoint] = fields
    return baselines


def timestamp_columns(config: PipelineConfig) -> frozenset[str]:
    """The row columns inferred as TIMESTAMP: the watermark's `timestamp_field` (where the transform puts it)
    and, with `add_metadata`, the window bounds and the extraction time."""
    api = config.api_config
    column = api.transform.column_of(api.watermark.timestamp_field)
    columns = frozenset([column] if column else [])
    return columns | frozenset(METADATA_TIMES) if api.transform.add_metadata else columns
