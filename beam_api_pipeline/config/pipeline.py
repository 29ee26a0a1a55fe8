"""One pipeline file: ``PipelineConfig``, and the rules that span its sections."""

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from .alerts import AlertsConfig
from .api import NAME_PATTERN, NAME_RULE, ApiConfig
from .base import StrictModel, rule_error
from .outputs import BigQueryOutputConfig, OutputConfig
from .stores import DeadLetterConfig, LocalWatermarkStoreConfig, WatermarkStoreConfig
from .streaming import StreamingConfig

_CLASS_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


class PipelineConfig(StrictModel):
    """A whole pipeline: what to extract (``api_config``), where to write it, and where its state lives.

    ``pipeline_id`` is the pipeline's key in the control tables; a disabled pipeline is listed, never run.
    """

    pipeline_id: str
    description: str = ""
    enabled: bool = True
    extractor_class: str = "rest"
    api_config: ApiConfig
    output: list[OutputConfig] = Field(default_factory=list)
    dead_letter: DeadLetterConfig | None = None
    watermark_store: WatermarkStoreConfig = LocalWatermarkStoreConfig()
    alerts: AlertsConfig | None = None
    streaming: StreamingConfig = StreamingConfig()

    @field_validator("pipeline_id")
    @classmethod
    def _pipeline_id_is_a_name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError(NAME_RULE)
        return value

    @field_validator("extractor_class")
    @classmethod
    def _known_extractor(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value) and not _CLASS_PATH.fullmatch(value):
            raise ValueError(
                "must be an extractor's name (built in, such as rest, or registered with "
                "PipelineFactory.register_extractor) or package.module:ClassName"
            )
        return value

    @model_validator(mode="after")
    def _sections_agree(self) -> Self:
        endpoints = self.api_config.endpoints
        if self.extractor_class == "graphql":
            missing = [f"api_config.endpoints.{name}.query" for name, ep in endpoints.items() if not ep.query]
            if missing:
                raise rule_error("required when extractor_class is graphql", *missing)
        for index, output in enumerate(self.output):
            if isinstance(output, BigQueryOutputConfig) and output.config.write_disposition == "merge":
                missing = [
                    f"api_config.endpoints.{name}.primary_key" for name, ep in endpoints.items() if not ep.primary_key
                ]
                if missing:
                    raise rule_error(f"required when output.{index} has write_disposition merge", *missing)
        if self.streaming.enabled:
            self._check_streaming()
        self._check_conditional_requests()
        return self

    def _check_streaming(self) -> None:
        """What a streaming run needs (watermarks: each poll starts at one) and what it does not do (yet): child
        endpoints, quality checks (they judge a whole run), and BigQuery writes other than appending streaming
        inserts (file loads and the Storage Write API need a triggering frequency this template does not set;
        truncate and merge work on a whole run's table)."""
        endpoints = self.api_config.endpoints
        if not self.api_config.watermark.enabled:
            raise rule_error("must be true when streaming.enabled is true", "api_config.watermark.enabled")
        refused = [
            *(f"api_config.endpoints.{name}.parent" for name, ep in endpoints.items() if ep.parent),
            *(f"api_config.endpoints.{name}.quality" for name, ep in endpoints.items() if ep.quality),
        ]
        if refused:
            raise rule_error("not supported when streaming.enabled is true", *refused)
        bigquery = [(i, o.config) for i, o in enumerate(self.output) if isinstance(o, BigQueryOutputConfig)]
        refused = [f"output.{index}.config.method" for index, c in bigquery if c.method != "streaming_inserts"]
        if refused:
            raise rule_error("must be streaming_inserts when streaming.enabled is true", *refused)
        refused = [
            f"output.{index}.config.write_disposition" for index, c in bigquery if c.write_disposition != "append"
        ]
        if refused:
            raise rule_error("must be append when streaming.enabled is true", *refused)

    def _check_conditional_requests(self) -> None:
        """A table each run truncates holds that run's rows only: a 304 (no rows) would empty it."""
        truncated = self.truncated_outputs()
        refused = [
            f"api_config.endpoints.{name}.conditional_requests"
            for name, ep in self.api_config.endpoints.items()
            if ep.conditional_requests
        ]
        if truncated and refused:
            raise rule_error(f"must not be true when {truncated[0]} has write_disposition truncate", *refused)

    def truncated_outputs(self) -> list[str]:
        """The enabled outputs (``output.<index>``) that replace their table's rows with each run's (``truncate``)."""
        return [
            f"output.{index}"
            for index, output in self.enabled_outputs()
            if isinstance(output, BigQueryOutputConfig) and output.config.write_disposition == "truncate"
        ]

    def enabled_outputs(self) -> list[tuple[int, OutputConfig]]:
        """The outputs to write to, in file order, each with its index in ``output`` (which names it in errors:
        ``output.<index>``)."""
        return [(index, output) for index, output in enumerate(self.output) if output.enabled]
