"""``${env:NAME}``, ``${file:/path}`` and ``${secret:projects/P/secrets/S/versions/V}`` in string values.

References are resolved on the worker at run time (in ``DoFn.setup``) by ``resolve_config``, never by the
loader, so that secrets never reach the job graph. No error message contains a resolved value.
"""

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from ..errors import ConfigError
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


def resolve_config(
    config: PipelineConfig, *, secret_client_factory: SecretClientFactory | None = None
) -> PipelineConfig:
    """A copy of ``config`` whose ``api_config`` strings (secrets included) have their references resolved.

    Every problem is reported, each under its key path; the resolved config is validated again.
    """
    resolver = _Resolver(secret_client_factory)
    problems: list[str] = []

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {key: walk(item, f"{path}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, f"{path}.{index}") for index, item in enumerate(value)]
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            try:
                resolved = resolver.resolve(text)
            except ConfigError as error:
                problems.extend(f"{path}: {problem}" for problem in error.problems)
                return value
            return SecretStr(resolved) if isinstance(value, SecretStr) else resolved
        return value

    data = config.model_dump(by_alias=True)
    data["api_config"] = walk(data["api_config"], "api_config")
    if problems:
        raise ConfigError(problems)
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(validation_problems(error, data)) from None
