"""Where records are written: the ``output`` list, one model per ``type``."""

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from .base import StrictModel, rule_error

_SCHEMA_RULE = "expected null, infer, auto, a list of BigQuery fields or the path of a JSON schema file"

#: What a file output writes: JSON Lines, or Parquet or Avro files with the columns of the endpoint's schema.
FileFormat = Literal["jsonl", "parquet", "avro"]


class BigQueryOutputSettings(StrictModel):
    """A BigQuery table; ``{endpoint}`` in ``table_id`` gives each endpoint its own table.

    ``project`` defaults to the job's project. ``merge`` upserts on the endpoints' ``primary_key``.
    ``schema`` (the attribute ``table_schema``: ``schema`` is taken by pydantic) is None (the table exists),
    ``"infer"`` (the table is made from the rows' inferred schema; what an endpoint under ``schema_contract:
    evolve`` gets when ``schema`` is not given, see ``schema_given``), ``"auto"``, a list of
    ``{name, type, mode, fields}`` or the path of a JSON schema file. ``temp_file_format`` is the format of
    ``file_loads``' temporary files: ``json``, ``auto`` (Avro where the schema is declared and fixed for the run,
    else JSON) or ``avro``.
    """

    project: str | None = None
    dataset_id: str
    table_id: str
    write_disposition: Literal["append", "truncate", "merge"] = "append"
    method: Literal["file_loads", "streaming_inserts", "storage_write_api"] = "file_loads"
    table_schema: str | list[dict[str, Any]] | None = Field(None, alias="schema")
    partition_field: str | None = None
    clustering_fields: list[str] = Field(default_factory=list)
    temp_file_format: Literal["json", "auto", "avro"] = "json"

    model_config = ConfigDict(serialize_by_alias=True)

    @model_validator(mode="after")
    def _temp_files_of_loads(self) -> "BigQueryOutputSettings":
        if self.temp_file_format != "json" and self.method != "file_loads":
            message = f"{self.temp_file_format} is for method file_loads; {self.method} writes no temp files"
            raise rule_error(message, "temp_file_format")
        return self

    @property
    def schema_given(self) -> bool:
        """Whether the config sets ``schema`` (``schema: null`` too), rather than leaving it to the default."""
        return "table_schema" in self.model_fields_set

    @model_serializer(mode="wrap")
    def _without_default_schema(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A dump leaves out a ``schema`` the config did not give, so that the config read back from it (a
        template's overrides, references resolved) keeps the default (``infer`` under ``evolve``)."""
        data = handler(self)
        if not self.schema_given:
            data.pop("schema", None)
            data.pop("table_schema", None)
        return data

    @field_validator("table_schema", mode="before")
    @classmethod
    def _schema_shape(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(field, dict) for field in value):
            return value
        raise ValueError(_SCHEMA_RULE)


class GcsOutputSettings(StrictModel):
    """Files under ``gs://bucket/prefix`` in ``file_format``; ``batch_size`` is records per file; ``compression``
    gzips JSON Lines (Parquet and Avro compress their own blocks)."""

    bucket: str
    prefix: str = ""
    file_format: FileFormat = "jsonl"
    batch_size: int = Field(1000, gt=0)
    compression: Literal["none", "gzip"] = "none"

    @model_validator(mode="after")
    def _gzip_only_jsonl(self) -> "GcsOutputSettings":
        if self.compression == "gzip" and self.file_format != "jsonl":
            message = f"gzip is for file_format jsonl; {self.file_format} files compress their own blocks"
            raise rule_error(message, "compression")
        return self


class LocalOutputSettings(StrictModel):
    """Files in ``file_format`` in a local directory (development and tests)."""

    path: str
    file_format: FileFormat = "jsonl"
    batch_size: int = Field(1000, gt=0)


class BigQueryOutputConfig(StrictModel):
    """``type: bigquery``."""

    type: Literal["bigquery"] = "bigquery"
    enabled: bool = True
    config: BigQueryOutputSettings


class GcsOutputConfig(StrictModel):
    """``type: gcs``."""

    type: Literal["gcs"] = "gcs"
    enabled: bool = True
    config: GcsOutputSettings


class LocalOutputConfig(StrictModel):
    """``type: local``."""

    type: Literal["local"] = "local"
    enabled: bool = True
    config: LocalOutputSettings


#: One item of ``output``, chosen by ``type``.
OutputConfig = Annotated[BigQueryOutputConfig | GcsOutputConfig | LocalOutputConfig, Field(discriminator="type")]
#: The ``type`` names ``output`` takes, one per model of ``OutputConfig``.
OUTPUT_TYPES = tuple(model.model_fields["type"].default for model in get_args(get_args(OutputConfig)[0]))
