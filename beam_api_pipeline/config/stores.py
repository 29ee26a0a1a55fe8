"""Where state and failures go: ``dead_letter`` and ``watermark_store``."""

from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from beam_api_pipeline.core.bigquery_names import parse_table_name

from .base import StrictModel, rule_error
from .fields import PositiveDuration


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


class _LeaseSettings(StrictModel):
    """How long a run's lease on its pipeline lasts unless renewed: `lease_ttl` for a run in this process (renewed
    every third of it while it runs), `job_lease_ttl` for a Dataflow job (taken by its launch, released by the
    job's last commit, renewed by each poll of a streaming job)."""

    lease_ttl: PositiveDuration = timedelta(minutes=5)
    job_lease_ttl: PositiveDuration = timedelta(hours=24)


class LocalWatermarkStoreConfig(_LeaseSettings):
    """A SQLite file; the default, for development and single-machine runs."""

    type: Literal["local"] = "local"
    path: str = "./.state/control.db"


class BigQueryWatermarkStoreConfig(_LeaseSettings):
    """A BigQuery control table shared by every pipeline."""

    type: Literal["bigquery"] = "bigquery"
    table: BigQueryTable


#: ``watermark_store``: one of the models above, chosen by ``type``.
WatermarkStoreConfig = Annotated[LocalWatermarkStoreConfig | BigQueryWatermarkStoreConfig, Field(discriminator="type")]
