"""Where state and failures go: ``dead_letter`` and ``watermark_store``."""

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from ..bigquery_names import parse_table_name
from .base import StrictModel, rule_error


def _check_table(value: str) -> str:
    parse_table_name(value)
    return value


#: A fully qualified BigQuery table name.
BigQueryTable = Annotated[str, AfterValidator(_check_table)]


class DeadLetterConfig(StrictModel):
    """Failed windows and records, with reasons: a local or ``gs://`` ``path``, or a BigQuery ``table``."""

    path: str | None = None
    table: BigQueryTable | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Self:
        if (self.path is None) == (self.table is None):
            raise rule_error("give exactly one of path and table")
        return self


class LocalWatermarkStoreConfig(StrictModel):
    """A SQLite file; the default, for development and single-machine runs."""

    type: Literal["local"] = "local"
    path: str = "./.state/control.db"


class BigQueryWatermarkStoreConfig(StrictModel):
    """A BigQuery control table shared by every pipeline."""

    type: Literal["bigquery"] = "bigquery"
    table: BigQueryTable


#: ``watermark_store``: one of the models above, chosen by ``type``.
WatermarkStoreConfig = Annotated[LocalWatermarkStoreConfig | BigQueryWatermarkStoreConfig, Field(discriminator="type")]
