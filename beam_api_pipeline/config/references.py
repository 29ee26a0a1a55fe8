"""``${env:NAME}``, ``${file:/path}`` and ``${secret:projects/P/secrets/S/versions/V}`` in string values.

References are resolved on the worker at run time (in ``DoFn.setup``) by ``resolve_config``, never by the
loader, so that secrets never reach the job graph. Only ``api_config`` is resolved. No error message contains a
resolved value.
"""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from beam_api_pipeline.core.errors import ConfigError

from .pipeline import PipelineConfig
from .problems import validation_problems

_REFERENCE = re.compile(r"\$\{(?P<scheme>[A-Za-z_]+):(?P<target>[^}]*)\}")
_SECRET_NAME = re.compile(r"projects/[^/]+/secrets/[^/]+(?:/versions/[^/]+)?")

#: Makes a Secret Manager client: an object with ``access_secret_version(request={"name": ...})``.
SecretClientFactory = Callable[[], Any]


def _secret_manager_client() -> Any:
    from google.cloud import secretmanager  # imported here: only workers that read a secret need it

    return secretmanager.SecretManagerServiceClient()


class _Resolver:
    """Resolves references; makes the Secret Manager client on first use and reads each secret once."""

    def __init__(self, secret_client_factory: SecretClientFactory | None):
        self._factory = secret_client_factory or _secret_manager_client
        self._client: Any = None
        self._secrets: dict[str, str] = {}

    def resolve(self, value: str) -> str:
        return _REFERENCE.sub(lambda match: self._lookup(match["scheme"], match["target"]), value)

    def _lookup(self, scheme: str, target: str) -> str:
        if scheme == "env":
            return _environment_variable(target)
        if scheme == "file":
            return _file_contents(target)
        if scheme == "secret":
            return self._secret(target)
        raise ConfigError(f"unknown reference ${{{scheme}:...}}: expected env, file or secret")

    def _secret(self, name: str) -> str:
        if not _SECRET_NAME.fullmatch(name):
            raise ConfigError(f"secret {name}: expected projects/P/secrets/S/versions/V")
        if "/versions/" not in name:
            name = f"{name}/versions/latest"
        if name not in self._secrets:
            try:
                if self._client is None:
                    self._client = self._factory()
                response = self._client.access_secret_version(request={"name": name})
                self._secrets[name] = response.payload.data.decode("utf-8")
            except Exception as error:  # the client's errors have no common base; none holds the value
                raise ConfigError(f"secret {name}: cannot be read ({type(error).__name__}: {error})") from None
        return self._secrets[name]


def _environment_variable(name: str) -> str:
    if name not in os.environ:
        raise ConfigError(f"environment variable {name} is not set")
    return os.environ[name]


def _file_contents(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise ConfigError(f"file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"file {path}: cannot be read ({type(error).__name__})") from None


def resolve_references(value: str, *, secret_client_factory: SecretClientFactory | None = None) -> str:
    """``value`` with each reference replaced by what it points to; ConfigError if one cannot be."""
    return _Resolver(secret_client_factory).resolve(value)


def _map_strings(value: Any, path: str, function: Callable[[str, str], str]) -> Any:
    """``value`` (dumped config data) with every string, secrets included, replaced by ``function(text, path)``;
    ``path`` is the key path of ``value``."""
    if isinstance(value, dict):
        return {key: _map_strings(item, f"{path}.{key}", function) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, f"{path}.{index}", function) for index, item in enumerate(value)]
    if isinstance(value, SecretStr):
        return SecretStr(function(value.get_secret_value(), path))
    if isinstance(value, str):
        return function(value, path)
    return value


def resolve_config(
    config: PipelineConfig, *, secret_client_factory: SecretClientFactory | None = None
) -> PipelineConfig:
    """A copy of ``config`` whose ``api_config`` strings (secrets included) have their references resolved.

    Every problem is reported, each under its key path; the resolved config is validated again.
    """
    resolver = _Resolver(secret_client_factory)
    problems: list[str] = []

    def resolve(text: str, path: str) -> str:
        try:
            return resolver.resolve(text)
        except ConfigError as error:
            problems.extend(f"{path}: {problem}" for problem in error.problems)
            return text

    data = config.model_dump(by_alias=True)
    data["api_config"] = _map_strings(data["api_config"], "api_config", resolve)
    if problems:
        raise ConfigError(problems)
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_problems(error, data)) from None


def references(config: PipelineConfig) -> list[tuple[str, str]]:
    """``(key path, scheme)`` of every reference a run resolves where it runs (on the workers, on Dataflow): those
    of ``api_config`` (``resolve_config``) and the ``alerts.webhook`` a job sends its alert to, in key order."""
    found: list[tuple[str, str]] = []

    def collect(text: str, path: str) -> str:
        found.extend((path, match["scheme"]) for match in _REFERENCE.finditer(text))
        return text

    _visit_resolved_strings(config, collect)
    return found


def _visit_resolved_strings(config: PipelineConfig, visit: Callable[[str, str], str]) -> None:
    """Call `visit(text, key path)` on each string a run resolves where it runs: `api_config`'s and the
    `alerts.webhook`."""
    data = config.model_dump(by_alias=True)
    _map_strings(data["api_config"], "api_config", visit)
    if config.alerts is not None and config.alerts.webhook is not None:
        visit(config.alerts.webhook.get_secret_value(), "alerts.webhook")


def literal_secrets(model: BaseModel, path: str = "") -> Iterator[str]:
    """Key paths of secrets written into the config as plain values rather than as one ``${...}`` reference."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        where = f"{path}.{name}" if path else name
        if isinstance(value, SecretStr) and not _REFERENCE.fullmatch(value.get_secret_value()):
            yield where
        elif isinstance(value, BaseModel):
            yield from literal_secrets(value, where)


def secret_names(config: PipelineConfig) -> list[str]:
    """The Secret Manager secrets (`projects/P/secrets/S`, without a version) that a run of `config` reads, once
    each, in key order: what its service account needs `secretAccessor` on."""
    names: list[str] = []

    def collect(text: str, path: str) -> str:
        for match in _REFERENCE.finditer(text):
            if match["scheme"] == "secret":
                names.append(match["target"].split("/versions/", 1)[0])
        return text

    _visit_resolved_strings(config, collect)
    return list(dict.fromkeys(names))
