"""Reading config files: a local path (``.yaml``, ``.yml``, ``.json``), a ``gs://`` path, or inline JSON.

Every problem becomes one line ``<file>: <key.path>: <message>`` of a ``ConfigError``; references
(``${env:...}`` and the like) are kept as written, to be resolved on the worker.
"""

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from beam_api_pipeline.core.errors import ConfigError

from .env import EnvConfig, user_agent
from .pipeline import PipelineConfig
from .problems import validation_problems

_INLINE = "<inline JSON>"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_Model = TypeVar("_Model", bound=BaseModel)


class _StrictYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # merged mappings (<<: *defaults) may be overridden; complex keys fail later
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_pipeline_config(source: str | Path, env_config: str | Path | EnvConfig | None = None) -> PipelineConfig:
    """The pipeline in ``source`` (a path, ``gs://`` path or inline JSON text), validated.

    ``env_config`` (a path or an ``EnvConfig``) supplies ``api_config.rate_limit`` and
    ``api_config.max_concurrent_requests`` when the pipeline file does not set them, and, when its ``service``
    has a name, the ``User-Agent`` of ``api_config.headers`` (``env.user_agent``) unless the file sets one.
    """
    label, data = _read(source)
    if env_config is not None:
        env = env_config if isinstance(env_config, EnvConfig) else load_env_config(env_config)
        data = _with_env_defaults(data, env)
    return _validate(PipelineConfig, data, label)


def load_env_config(source: str | Path) -> EnvConfig:
    """The environment file in ``source`` (a path, ``gs://`` path or inline JSON text), validated."""
    label, data = _read(source)
    return _validate(EnvConfig, data, label)


def dump_pipeline_config(config: PipelineConfig) -> str:
    """``config`` as YAML that ``load_pipeline_config`` reads back to an equal config.

    Every key is written, defaults included. A secret given as a reference is written as that reference;
    a secret given literally is written masked (``**********``), so a dump with literal secrets does not
    load back to the same credentials. Dump a loaded config, not a resolved one (``resolve_config``): the
    values of resolved references outside secrets would be written out.
    """
    data = config.model_dump(mode="json")
    # Non-ASCII text is written escaped: YAML reads some characters written as they are (U+0085, U+2028,
    # U+2029) as line breaks, which would change the string.
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False)


def _with_env_defaults(data: dict[str, Any], env: EnvConfig) -> dict[str, Any]:
    """``data`` with the environment's rate limits and User-Agent filled in where ``api_config`` does not give
    them."""
    api_config = data.get("api_config")
    if not isinstance(api_config, dict):
        return data  # reported by validation
    defaults = {
        "rate_limit": env.rate_limits.default_rps,
        "max_concurrent_requests": env.rate_limits.max_concurrent,
    }
    missing = {key: value for key, value in defaults.items() if value is not None and key not in api_config}
    headers = api_config.get("headers", {})
    if env.service.name and isinstance(headers, dict) and not any(_is_user_agent(name) for name in headers):
        missing["headers"] = {**headers, "User-Agent": user_agent(env.service)}
    return {**data, "api_config": {**api_config, **missing}}


def _is_user_agent(header: Any) -> bool:
    return isinstance(header, str) and header.lower() == "user-agent"


def is_inline(source: str | Path) -> bool:
    """Whether ``source`` is the config itself, as inline JSON text, rather than a path."""
    return isinstance(source, str) and source.lstrip().startswith("{")


def source_label(source: str | Path) -> str:
    """How messages name ``source``: its path, or ``<inline JSON>``."""
    return _INLINE if is_inline(source) else str(source)


def _validate(model: type[_Model], data: dict[str, Any], label: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_problems(error, data, label)) from None


def _read(source: str | Path) -> tuple[str, dict[str, Any]]:
    """``(label for messages, top-level mapping)`` of ``source``."""
    label = source_label(source)
    if is_inline(source):
        text, is_json = str(source), True
    else:
        text, is_json = _read_text(label), label.lower().endswith(".json")
    data = _parse_json(text, label) if is_json else _parse_yaml(text, label)
    if data is None:
        raise ConfigError(f"{label}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: expected a mapping of keys at the top level")
    return label, data


def _read_text(path: str) -> str:
    if path.startswith("gs://"):
        return _read_gcs_text(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({type(error).__name__}: {error})") from None


def _read_gcs_text(path: str) -> str:
    from apache_beam.io.filesystems import FileSystems  # imported here: Beam is slow to import

    try:
        if FileSystems.exists(path):
            with FileSystems.open(path) as handle:
                return handle.read().decode("utf-8")
    except Exception as error:  # the GCS client's errors have no common base
        raise ConfigError(f"{path}: cannot be read ({type(error).__name__}: {error})") from None
    raise ConfigError(f"{path}: file not found")


def _parse_json(text: str, label: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{label}: line {error.lineno}, column {error.colno}: {error.msg}") from None


def _parse_yaml(text: str, label: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictYamlLoader)  # safe: a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{label}: {where}{error.problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{label}: invalid YAML ({error})") from None
