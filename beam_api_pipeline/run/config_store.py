"""The config store: a folder or `gs://` prefix of pipeline files, loaded and validated together."""

from __future__ import annotations

from pathlib import Path

from beam_api_pipeline.config import PipelineConfig, load_pipeline_config
from beam_api_pipeline.core.errors import ConfigError

_SUFFIXES = (".yaml", ".yml", ".json")


def _config_files(location: str) -> list[str]:
    if location.startswith("gs://"):
        from apache_beam.io.filesystems import FileSystems

        prefix = location.rstrip("/") + "/"
        matches = FileSystems.match([prefix + "*"])[0].metadata_list
        return sorted(m.path for m in matches if m.path.endswith(_SUFFIXES))
    folder = Path(location)
    if not folder.is_dir():
        raise ConfigError(f"{location}: not a folder")
    return sorted(str(p) for p in folder.iterdir() if p.suffix in _SUFFIXES)


def load_config_dir(location: str, env_config: str | None = None) -> dict[str, PipelineConfig]:
    """Every pipeline file in `location` by pipeline_id; all problems of all files in one ConfigError."""
    configs: dict[str, PipelineConfig] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    for path in _config_files(location):
        try:
            config = load_pipeline_config(path, env_config)
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        if config.pipeline_id in configs:
            problems.append(
                f"{path}: pipeline_id: {config.pipeline_id} is also defined in {sources[config.pipeline_id]}"
            )
            continue
        configs[config.pipeline_id] = config
        sources[config.pipeline_id] = path
    if problems:
        raise ConfigError(problems)
    return configs
