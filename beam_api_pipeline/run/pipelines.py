"""The pipelines a command works on: their configs, the file each was loaded from and the service that runs
them; the endpoints a command chooses of one; and a pipeline's summary for `list`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from beam_api_pipeline.config import PipelineConfig, ServiceConfig
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.windowing import format_utc


@dataclass(frozen=True)
class Pipelines:
    """The pipelines of a config store by id; `sources` names the file each was loaded from (for messages);
    `service` is the environment file's, recorded with each run and labelling Dataflow jobs."""

    configs: dict[str, PipelineConfig]
    sources: dict[str, str] = field(default_factory=dict)
    service: ServiceConfig = field(default_factory=ServiceConfig)

    def config(self, pipeline_id: str) -> PipelineConfig:
        """The config of `pipeline_id`; a ConfigError naming the known ones when there is none."""
        if pipeline_id not in self.configs:
            known = ", ".join(sorted(self.configs)) or "none"
            raise ConfigError(f"pipeline_id: no pipeline {pipeline_id!r} in the config store (known: {known})")
        return self.configs[pipeline_id]

    def source(self, config: PipelineConfig) -> str | None:
        """The file `config` was loaded from, if known."""
        return self.sources.get(config.pipeline_id)


def chosen_endpoints(config: PipelineConfig, endpoint: str | None) -> list[str]:
    """`[endpoint]` (`--endpoint`), or all of `config`'s endpoints (sorted) without one; an endpoint that is not
    in `config` is a ConfigError."""
    endpoints = sorted(config.api_config.endpoints)
    if endpoint is None:
        return endpoints
    if endpoint not in endpoints:
        raise ConfigError(
            f"--endpoint: {endpoint!r} is not an endpoint of {config.pipeline_id} ({', '.join(endpoints)})"
        )
    return [endpoint]


def pipeline_summary(config: PipelineConfig) -> dict[str, Any]:
    """A pipeline's summary: id, description, enabled, extractor, enabled outputs, its stored watermarks and its
    last run's id and status."""
    pipeline_id = config.pipeline_id
    with opened_store(config.watermark_store) as store:
        watermarks = {e: store.get_watermark(pipeline_id, e) for e in config.api_config.endpoints}
        runs = store.list_runs(pipeline_id)
    return {
        "pipeline_id": pipeline_id,
        "description": config.description,
        "enabled": config.enabled,
        "extractor": config.extractor_class,
        "outputs": [output.type for _, output in config.enabled_outputs()],
        "watermarks": {e: format_utc(w) if w else None for e, w in watermarks.items()},
        "last_run_id": runs[0].run_id if runs else None,
        "last_run_status": runs[0].status if runs else None,
    }
