"""Unit tests of the configuration layer: models, loading, error messages, references, dumping."""

import copy
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from beam_api_pipeline.config import (
    ApiKeyAuthConfig,
    BearerAuthConfig,
    BigQueryWatermarkStoreConfig,
    EnvConfig,
    GcsOutputConfig,
    LocalOutputConfig,
    LocalWatermarkStoreConfig,
    NoAuthConfig,
    OAuth2AuthConfig,
    PaginationConfig,
    PipelineConfig,
    TimeWindowParallelConfig,
    WatermarkConfig,
    WindowConfig,
    dump_pipeline_config,
    format_duration,
    load_env_config,
    load_pipeline_config,
    parse_duration,
    resolve_config,
    resolve_references,
)
from beam_api_pipeline.core.errors import ConfigError

FULL_EXAMPLE = Path(__file__).parent / "configs" / "full_example.yaml"
DELETE = object()

MINIMAL: dict[str, Any] = {
    "pipeline_id": "acme_issues",
    "api_config": {
        "base_url": "https://api.example.com",
        "endpoints": {"issues": {"path": "/issues"}},
    },
}


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` applied: nested mappings merge, ``DELETE`` removes a key."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if value is DELETE:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


#: A streaming pipeline: polls need watermarks.
STREAMING: dict[str, Any] = {
    "streaming": {"enabled": True},
    "api_config": {"watermark": {"enabled": True, "initial_watermark": "2024-01-01T00:00:00Z"}},
}


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "pipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def problems(tmp_path: Path, data: dict[str, Any] | str) -> list[str]:
    """The problems reported for ``data``, each checked to start with the file name, without it."""
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path)
    assert all(line.startswith(f"{path}: ") for line in caught.value.problems), caught.value.problems
    return [line.removeprefix(f"{path}: ") for line in caught.value.problems]


def load(tmp_path: Path, patch: dict[str, Any]) -> PipelineConfig:
    return load_pipeline_config(write(tmp_path, merged(MINIMAL, patch)))


class FakeSecretClient:
    """Stands in for SecretManagerServiceClient: answers from a dict, records what was asked."""

    def __init__(self, secrets: dict[str, str]):
        self.secrets = secrets
        self.requests: list[str] = []

    def access_secret_version(self, request: dict[str, str]) -> Any:
        self.requests.append(request["name"])
        return SimpleNamespace(payload=SimpleNamespace(data=self.secrets[request["name"]].encode()))


# --- the reference example and defaults ---------------------------------------------------------------


def test_the_full_reference_example_parses():
    config = load_pipeline_config(FULL_EXAMPLE)

    api = config.api_config
    assert config.pipeline_id == "acme_issues"
    assert isinstance(api.auth_config, NoAuthConfig)
    assert api.endpoints["issues"].primary_key == "id"
    assert api.pagination.cursor_path == "meta.next_cursor"
    assert api.watermark.initial_watermark == datetime(2024, 1, 1, tzinfo=UTC)
    assert api.watermark.lookback_window == timedelta(hours=1)
    assert api.watermark.window.window_size == timedelta(days=1)
    assert isinstance(api.parallel_config, TimeWindowParallelConfig)
    assert api.parallel_config.max_concurrent_windows == 8
    assert [output.type for output in config.output] == ["bigquery", "gcs", "local"]
    assert config.output[0].config.partition_field == "_window_start"
    assert config.dead_letter is not None and config.dead_letter.path == "./output/acme_issues/dead_letter"
    assert config.watermark_store == BigQueryWatermarkStoreConfig(table="my-project.pipeline_control.watermarks")


def test_a_minimal_config_gets_the_documented_defaults(tmp_path):
    config = load(tmp_path, {})

    api = config.api_config
    assert config.extractor_class == "rest"
    assert config.enabled is True
    assert isinstance(api.auth_config, NoAuthConfig)
    assert api.pagination == PaginationConfig()
    assert (api.pagination.strategy, api.pagination.page_size, api.pagination.max_pages) == (
        "page_number",
        100,
        1000,
    )
    assert api.retry.retry_on == [429, 500, 502, 503, 504]
    assert api.watermark.enabled is False
    assert api.timeout == 30 and api.batch_size == 100 and api.verify_ssl is True
    assert api.rate_limit is None and api.parallel_config is None
    assert config.output == [] and config.dead_letter is None
    assert config.watermark_store == LocalWatermarkStoreConfig(path="./.state/control.db")


def test_models_are_frozen(tmp_path):
    config = load(tmp_path, {})
    with pytest.raises(ValidationError):
        config.pipeline_id = "other"  # type: ignore[misc]


def test_enabled_outputs_skips_disabled_ones(tmp_path):
    config = load(
        tmp_path,
        {
            "output": [
                {"type": "gcs", "enabled": False, "config": {"bucket": "b"}},
                {"type": "local", "config": {"path": "./out"}},
            ]
        },
    )
    assert [type(output) for output in config.output] == [GcsOutputConfig, LocalOutputConfig]
    assert [(index, output.type) for index, output in config.enabled_outputs()] == [(1, "local")]


@pytest.mark.parametrize(
    ("auth", "expected_type"),
    [
        ({"auth_type": "none"}, NoAuthConfig),
        ({"auth_type": "api_key", "auth_credentials": {"key": "k", "location": "query"}}, ApiKeyAuthConfig),
        ({"auth_type": "bearer", "auth_credentials": {"token": "t"}}, BearerAuthConfig),
        (
            {
                "auth_type": "oauth2",
                "auth_credentials": {
                    "token_url": "https://auth.example.com/token",
                    "client_id": "id",
                    "client_secret": "s",
                    "grant_type": "client_credentials",
                },
            },
            OAuth2AuthConfig,
        ),
    ],
)
def test_auth_config_is_chosen_by_auth_type(tmp_path, auth, expected_type):
    config = load(tmp_path, {"api_config": {"auth_config": auth}})
    assert type(config.api_config.auth_config) is expected_type


def test_an_endpoint_may_have_its_own_pagination(tmp_path):
    own = {"strategy": "cursor", "cursor_path": "meta.next_cursor"}
    config = load(tmp_path, {"api_config": {"endpoints": {"events": {"path": "/events", "pagination": own}}}})

    api = config.api_config
    assert api.pagination_for("events") == PaginationConfig.with_cursor("meta.next_cursor")
    assert api.pagination_for("issues") == api.pagination == PaginationConfig()


# --- error messages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        pytest.param(
            {"api_config": {"pagination": {"pagesize": 10}}},
            ["api_config.pagination.pagesize: unknown key"],
            id="unknown-key",
        ),
        pytest.param({"outputs": []}, ["outputs: unknown key"], id="unknown-top-level-key"),
        pytest.param({"api_config": {"base_url": DELETE}}, ["api_config.base_url: required"], id="missing"),
        pytest.param(
            {"output": [{"type": "bigquery", "config": {"dataset_id": "raw"}}]},
            ["output.0.config.table_id: required"],
            id="missing-in-list",
        ),
        pytest.param(
            {"api_config": {"pagination": {"page_size": 0}}},
            ["api_config.pagination.page_size: must be > 0"],
            id="not-positive",
        ),
        pytest.param(
            {"api_config": {"retry": {"max_attempts": 0}}},
            ["api_config.retry.max_attempts: must be >= 1"],
            id="below-minimum",
        ),
        pytest.param(
            {"api_config": {"retry": {"retry_on": [429, 600]}}},
            ["api_config.retry.retry_on.1: must be <= 599"],
            id="list-item",
        ),
        pytest.param({"api_config": {"timeout": "soon"}}, ["api_config.timeout: expected a number"], id="not-a-number"),
        pytest.param(
            {"api_config": {"batch_size": 2.5}},
            ["api_config.batch_size: expected an integer"],
            id="not-an-int",
        ),
        pytest.param(
            {"api_config": {"pagination": 5}},
            ["api_config.pagination: expected a mapping"],
            id="not-a-mapping",
        ),
        pytest.param(
            {"api_config": {"endpoints": {"issues": {"method": "PUT"}}}},
            ["api_config.endpoints.issues.method: must be one of: GET, POST"],
            id="bad-enum",
        ),
        pytest.param(
            {"output": [{"type": "s3", "config": {}}]},
            ["output.0.type: must be one of: bigquery, gcs, local"],
            id="bad-output-type",
        ),
        pytest.param({"output": [{"config": {}}]}, ["output.0.type: required"], id="missing-output-type"),
        pytest.param(
            {"output": [{"type": "gcs", "config": {"bucket": "b", "compression": "zip"}}]},
            ["output.0.config.compression: must be one of: none, gzip"],
            id="output-option",
        ),
        pytest.param(
            {"api_config": {"auth_config": {"auth_type": "token"}}},
            ["api_config.auth_config.auth_type: must be one of: none, api_key, bearer, basic, oauth2, login"],
            id="bad-auth-type",
        ),
        pytest.param(
            {"api_config": {"auth_config": {"auth_type": "bearer", "auth_credentials": {"tokn": "x"}}}},
            [
                "api_config.auth_config.auth_credentials.token: required",
                "api_config.auth_config.auth_credentials.tokn: unknown key",
            ],
            id="credentials-without-tag-in-path",
        ),
        pytest.param(
            {"api_config": {"watermark": {"enabled": False, "window": {"window_size": "5 hours"}}}},
            ["api_config.watermark.window.window_size: expected a duration like 30s, 15m, 1h, 7d"],
            id="bad-duration",
        ),
        pytest.param(
            {"api_config": {"watermark": {"enabled": False, "lookback_window": "-1h"}}},
            ["api_config.watermark.lookback_window: expected a duration like 30s, 15m, 1h, 7d"],
            id="negative-duration",
        ),
        pytest.param(
            {"api_config": {"watermark": {"enabled": False, "window": {"window_size": "0m"}}}},
            ["api_config.watermark.window.window_size: must be > 0s"],
            id="empty-window",
        ),
        pytest.param(
            {"api_config": {"watermark": {"enabled": False, "window": {"window_size": "1h", "window_overlap": "1h"}}}},
            ["api_config.watermark.window.window_overlap: must be shorter than window_size"],
            id="overlap-too-long",
        ),
        pytest.param(
            {"api_config": {"watermark": {"initial_watermark": "yesterday"}}},
            ["api_config.watermark.initial_watermark: expected an ISO 8601 date-time like 2024-01-01T00:00:00Z"],
            id="bad-datetime",
        ),
        pytest.param(
            {"api_config": {"watermark": {"timestamp_field": "updated_at"}}},
            ["api_config.watermark.initial_watermark: required when watermark is enabled"],
            id="watermark-without-start",
        ),
        pytest.param(
            {"api_config": {"watermark": {"enabled": False, "time_format": "unix"}}},
            [
                "api_config.watermark.time_format: must be one of: iso8601, epoch, epoch_ms, date, "
                "or a strftime pattern like %Y-%m-%d"
            ],
            id="bad-time-format",
        ),
        pytest.param(
            {"pipeline_id": "Acme-Issues"},
            ["pipeline_id: must start with a lowercase letter and contain only a-z, 0-9 and _"],
            id="bad-pipeline-id",
        ),
        pytest.param(
            {"api_config": {"endpoints": {"Issues": {"path": "/x"}}}},
            [
                "api_config.endpoints.Issues: "
                "endpoint name must start with a lowercase letter and contain only a-z, 0-9 and _"
            ],
            id="bad-endpoint-name",
        ),
        pytest.param(
            {"api_config": {"endpoints": {"issues": DELETE}}},
            ["api_config.endpoints: must not be empty"],
            id="no-endpoints",
        ),
        pytest.param(
            {"extractor_class": "my_module.Extractor"},
            [
                "extractor_class: must be an extractor's name (built in, such as rest, or registered with "
                "PipelineFactory.register_extractor) or package.module:ClassName"
            ],
            id="bad-extractor-class",
        ),
        pytest.param(
            {"api_config": {"base_url": "api.example.com"}},
            ["api_config.base_url: must start with http:// or https://"],
            id="bad-base-url",
        ),
        pytest.param(
            {"api_config": {"pagination": {"strategy": "cursor"}}},
            ["api_config.pagination.cursor_path: required when strategy is cursor"],
            id="cursor-without-path",
        ),
        pytest.param(
            {"api_config": {"endpoints": {"issues": {"pagination": {"strategy": "cursor"}}}}},
            ["api_config.endpoints.issues.pagination.cursor_path: required when strategy is cursor"],
            id="endpoint-cursor-without-path",
        ),
        pytest.param(
            {"api_config": {"pagination": {"strategy": "next_url"}}},
            ["api_config.pagination.next_url_path: required when strategy is next_url"],
            id="next-url-without-path",
        ),
        pytest.param(
            {"api_config": {"pagination": {"strategy": "graphql"}}},
            ["api_config.pagination.page_info_path: required when strategy is graphql"],
            id="graphql-without-page-info",
        ),
        pytest.param(
            {"api_config": {"retry": {"base_delay": 5, "max_delay": 2}}},
            ["api_config.retry.max_delay: must be >= base_delay (5)"],
            id="max-delay-below-base",
        ),
        pytest.param(
            {
                "api_config": {
                    "auth_config": {
                        "auth_type": "oauth2",
                        "auth_credentials": {"token_url": "https://a/token", "client_id": "c"},
                    }
                }
            },
            ["api_config.auth_config.auth_credentials.refresh_token: required when grant_type is refresh_token"],
            id="oauth2-without-refresh-token",
        ),
        pytest.param(
            {"api_config": {"parallel_config": {"type": "known_pages", "max_concurrent_pages": 0}}},
            ["api_config.parallel_config.max_concurrent_pages: must be > 0"],
            id="parallel-option",
        ),
        pytest.param(
            {"api_config": {"parallel_config": {"type": "threads"}}},
            ["api_config.parallel_config.type: must be one of: time_window, known_pages, calculated_offset"],
            id="bad-parallel-type",
        ),
        pytest.param(
            {
                "api_config": {"endpoints": {"events": {"path": "/events", "primary_key": "id"}}},
                "output": [
                    {
                        "type": "bigquery",
                        "config": {"dataset_id": "d", "table_id": "t", "write_disposition": "merge"},
                    }
                ],
            },
            ["api_config.endpoints.issues.primary_key: required when output.0 has write_disposition merge"],
            id="merge-without-primary-key",
        ),
        pytest.param(
            {"extractor_class": "graphql"},
            ["api_config.endpoints.issues.query: required when extractor_class is graphql"],
            id="graphql-without-query",
        ),
        pytest.param(
            {"output": [{"type": "bigquery", "config": {"dataset_id": "d", "table_id": "t", "schema": 5}}]},
            [
                "output.0.config.schema: "
                "expected null, infer, auto, a list of BigQuery fields or the path of a JSON schema file"
            ],
            id="bad-schema",
        ),
        pytest.param(
            {"dead_letter": {"path": "./dl", "table": "my-project.d.t"}},
            ["dead_letter: give exactly one of path and table"],
            id="dead-letter-two-targets",
        ),
        pytest.param(
            {"watermark_store": {"type": "bigquery", "table": "dataset.table"}},
            ["watermark_store.table: expected project.dataset.table or project:dataset.table"],
            id="bad-control-table",
        ),
        pytest.param(
            {"api_config": {"rate_limit_mode": "adaptive"}},
            ["api_config.rate_limit: required when rate_limit_mode is adaptive"],
            id="adaptive-without-rate-limit",
        ),
        pytest.param(
            {"api_config": {"rate_limit": 10, "rate_limit_mode": "shared"}},
            ["api_config.rate_limit_store: required when rate_limit_mode is shared"],
            id="shared-without-store",
        ),
        pytest.param(
            {"api_config": {"rate_limit": 10, "rate_limit_store": "redis://10.0.0.3:6379/0"}},
            ["api_config.rate_limit_store: only used with rate_limit_mode: shared"],
            id="store-without-shared",
        ),
        pytest.param(
            {"api_config": {"rate_limit": 10, "rate_limit_mode": "shared", "rate_limit_store": "redis://:pw@h:1/0"}},
            [
                "api_config.rate_limit_store: must be redis://host:port/db (or rediss:// for TLS); give the password "
                "in rate_limit_store_password"
            ],
            id="password-in-store-url",
        ),
        pytest.param(
            {"api_config": {"rate_limit_mode": "fair"}},
            ["api_config.rate_limit_mode: must be one of: share, adaptive, shared"],
            id="unknown-rate-limit-mode",
        ),
        pytest.param(
            merged(STREAMING, {"streaming": {"poll_interval": "0s"}}),
            ["streaming.poll_interval: must be > 0s"],
            id="streaming-poll-interval",
        ),
        pytest.param(
            merged(STREAMING, {"streaming": {"lag": "-5s"}}),
            ["streaming.lag: expected a duration like 30s, 15m, 1h, 7d"],
            id="streaming-negative-lag",
        ),
        pytest.param(
            merged(STREAMING, {"api_config": {"watermark": {"enabled": False}}}),
            ["api_config.watermark.enabled: must be true when streaming.enabled is true"],
            id="streaming-without-watermark",
        ),
        pytest.param(
            merged(
                STREAMING,
                {
                    "api_config": {
                        "endpoints": {
                            "issues": {"quality": [{"check": "not_null", "field": "id"}]},
                            "comments": {"parent": "issues", "path": "/issues/{parent.id}/comments"},
                        }
                    }
                },
            ),
            [
                "api_config.endpoints.comments.parent: not supported when streaming.enabled is true",
                "api_config.endpoints.issues.quality: not supported when streaming.enabled is true",
            ],
            id="streaming-children-and-checks",
        ),
        pytest.param(
            merged(
                STREAMING,
                {
                    "output": [
                        {"type": "bigquery", "config": {"dataset_id": "d", "table_id": "t"}},
                        {
                            "type": "bigquery",
                            "config": {"dataset_id": "d", "table_id": "u", "method": "streaming_inserts"},
                        },
                    ]
                },
            ),
            ["output.0.config.method: must be streaming_inserts when streaming.enabled is true"],
            id="streaming-file-loads",
        ),
        pytest.param(
            {
                **STREAMING,
                "output": [
                    {
                        "type": "bigquery",
                        "config": {
                            "dataset_id": "d",
                            "table_id": "t",
                            "method": "streaming_inserts",
                            "write_disposition": "truncate",
                        },
                    }
                ],
            },
            ["output.0.config.write_disposition: must be append when streaming.enabled is true"],
            id="streaming-truncate",
        ),
    ],
)
def test_each_problem_is_one_line_naming_the_key(tmp_path, patch, expected):
    assert problems(tmp_path, merged(MINIMAL, patch)) == expected


def test_all_problems_are_reported_at_once(tmp_path):
    data = merged(MINIMAL, {"pipeline_id": "X", "api_config": {"timeout": 0, "pagination": {"page_size": 0}}})
    assert problems(tmp_path, data) == [
        "pipeline_id: must start with a lowercase letter and contain only a-z, 0-9 and _",
        "api_config.timeout: must be > 0",
        "api_config.pagination.page_size: must be > 0",
    ]


def test_a_yaml_syntax_error_names_line_and_column(tmp_path):
    text = "pipeline_id: acme\napi_config:\n  base_url: https://x\n   endpoints: {}\n"
    assert problems(tmp_path, text) == ["line 4, column 13: mapping values are not allowed here"]


def test_a_key_given_twice_is_an_error(tmp_path):
    text = "pipeline_id: acme\napi_config: {}\npipeline_id: other\n"
    assert problems(tmp_path, text) == ["line 3, column 1: duplicate key 'pipeline_id'"]


def test_yaml_merge_keys_may_be_overridden(tmp_path):
    text = (
        "pipeline_id: acme\n"
        "api_config:\n"
        "  base_url: https://x\n"
        "  endpoints:\n"
        "    a: &common {path: /a, records_path: items}\n"
        "    b: {<<: *common, path: /b}\n"
    )
    endpoints = load_pipeline_config(write(tmp_path, text)).api_config.endpoints
    assert (endpoints["b"].path, endpoints["b"].records_path) == ("/b", "items")


def test_a_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path)
    assert caught.value.problems == [f"{path}: file not found"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "the file is empty"), ("- a\n- b\n", "expected a mapping of keys at the top level")],
)
def test_the_top_level_must_be_a_mapping(tmp_path, text, expected):
    assert problems(tmp_path, text) == [expected]


def test_inline_json(tmp_path):
    assert load_pipeline_config(json.dumps(MINIMAL)) == load(tmp_path, {})

    with pytest.raises(ConfigError) as caught:
        load_pipeline_config('{"pipeline_id": "acme"}')
    assert caught.value.problems == ["<inline JSON>: api_config: required"]

    with pytest.raises(ConfigError) as caught:
        load_pipeline_config('{"pipeline_id": "acme",}')
    assert caught.value.problems == [
        "<inline JSON>: line 1, column 24: Expecting property name enclosed in double quotes"
    ]


def test_a_json_file(tmp_path):
    path = tmp_path / "pipe.json"
    path.write_text(json.dumps(MINIMAL), encoding="utf-8")
    assert load_pipeline_config(path) == load(tmp_path, {})


def test_a_gcs_path_is_read_through_beam_filesystems(monkeypatch, tmp_path):
    from apache_beam.io.filesystems import FileSystems

    files = {"gs://bucket/pipe.yaml": yaml.safe_dump(MINIMAL).encode()}
    monkeypatch.setattr(FileSystems, "exists", staticmethod(lambda path: path in files))
    monkeypatch.setattr(FileSystems, "open", staticmethod(lambda path: io.BytesIO(files[path])))

    assert load_pipeline_config("gs://bucket/pipe.yaml") == load(tmp_path, {})
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config("gs://bucket/other.yaml")
    assert caught.value.problems == ["gs://bucket/other.yaml: file not found"]


def test_an_invalid_secret_is_not_echoed(tmp_path):
    auth = {"auth_type": "bearer", "auth_credentials": {"token": {"value": "hunter2-secret"}}}
    lines = problems(tmp_path, merged(MINIMAL, {"api_config": {"auth_config": auth}}))
    assert lines == ["api_config.auth_config.auth_credentials.token: expected a string"]
    assert "hunter2" not in "\n".join(lines)


# --- environment file ------------------------------------------------------------------------------------


def test_the_env_config_supplies_rate_limit_defaults(tmp_path):
    env = write(
        tmp_path,
        {"service": {"name": "api-pipeline"}, "rate_limits": {"default_rps": 5, "max_concurrent": 3}},
        "env.yaml",
    )
    unset = write(tmp_path, MINIMAL)
    given = write(tmp_path, merged(MINIMAL, {"api_config": {"rate_limit": 50}}), "given.yaml")

    defaulted = load_pipeline_config(unset, env_config=env).api_config
    assert (defaulted.rate_limit, defaulted.max_concurrent_requests) == (5, 3)
    kept = load_pipeline_config(given, env_config=env).api_config
    assert (kept.rate_limit, kept.max_concurrent_requests) == (50, 3)
    assert load_pipeline_config(unset).api_config.rate_limit is None


def test_env_config_errors_name_the_env_file(tmp_path):
    path = write(tmp_path, {"rate_limits": {"default_rps": 0}, "logging": {}}, "env.yaml")
    with pytest.raises(ConfigError) as caught:
        load_env_config(path)
    assert caught.value.problems == [
        f"{path}: rate_limits.default_rps: must be > 0",
        f"{path}: logging: unknown key",
    ]
    assert load_env_config(write(tmp_path, "service: {log_level: DEBUG}\n", "ok.yaml")) == EnvConfig.model_validate(
        {"service": {"log_level": "DEBUG"}}
    )


# --- references ------------------------------------------------------------------------------------------

BEARER_FROM_ENV = {
    "api_config": {
        "base_url": "${env:API_URL}",
        "headers": {"X-Trace": "run-${env:RUN_ID}"},
        "auth_config": {"auth_type": "bearer", "auth_credentials": {"token": "${env:API_TOKEN}"}},
    }
}


def test_the_loader_keeps_references_and_resolve_config_resolves_them(tmp_path, monkeypatch):
    monkeypatch.setenv("API_URL", "https://api.example.com")
    monkeypatch.setenv("RUN_ID", "42")
    monkeypatch.setenv("API_TOKEN", "tok-123")
    config = load(tmp_path, BEARER_FROM_ENV)
    assert config.api_config.base_url == "${env:API_URL}"
    assert config.api_config.auth_config.auth_credentials.token.get_secret_value() == "${env:API_TOKEN}"

    resolved = resolve_config(config)

    assert resolved.api_config.base_url == "https://api.example.com"
    assert resolved.api_config.headers == {"X-Trace": "run-42"}
    token = resolved.api_config.auth_config.auth_credentials.token
    assert isinstance(token, SecretStr) and token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(resolved) and "tok-123" not in str(resolved)
    assert resolved.pipeline_id == config.pipeline_id and resolved.output == config.output


def test_an_unset_environment_variable_is_named_with_its_key(tmp_path, monkeypatch):
    monkeypatch.setenv("API_URL", "https://api.example.com")
    monkeypatch.setenv("RUN_ID", "42")
    monkeypatch.delenv("API_TOKEN", raising=False)
    with pytest.raises(ConfigError) as caught:
        resolve_config(load(tmp_path, BEARER_FROM_ENV))
    assert caught.value.problems == [
        "api_config.auth_config.auth_credentials.token: environment variable API_TOKEN is not set"
    ]

    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(ConfigError, match=r"^environment variable NOPE is not set$"):
        resolve_references("${env:NOPE}")


def test_a_resolved_value_is_validated_but_not_echoed(tmp_path, monkeypatch):
    monkeypatch.setenv("API_URL", "ftp://secret-host.internal")
    with pytest.raises(ConfigError) as caught:
        resolve_config(load(tmp_path, {"api_config": {"base_url": "${env:API_URL}"}}))
    assert caught.value.problems == ["api_config.base_url: must start with http:// or https://"]


def test_file_references(tmp_path):
    secret_file = tmp_path / "token.txt"
    secret_file.write_text("s3cret\n", encoding="utf-8")
    assert resolve_references(f"Bearer ${{file:{secret_file}}}") == "Bearer s3cret"

    missing = tmp_path / "missing.txt"
    with pytest.raises(ConfigError) as caught:
        resolve_references(f"${{file:{missing}}}")
    assert caught.value.problems == [f"file {missing}: not found"]


def test_secret_references_use_one_client_and_never_leak(tmp_path):
    name = "projects/p/secrets/api-key/versions/latest"
    client = FakeSecretClient({name: "the-real-key"})
    made: list[FakeSecretClient] = []

    def factory() -> FakeSecretClient:
        made.append(client)
        return client

    auth = {"auth_type": "api_key", "auth_credentials": {"key": "${secret:projects/p/secrets/api-key}"}}
    config = load(tmp_path, {"api_config": {"auth_config": auth, "headers": {"K": f"${{secret:{name}}}"}}})

    resolved = resolve_config(config, secret_client_factory=factory)

    assert resolved.api_config.auth_config.auth_credentials.key.get_secret_value() == "the-real-key"
    assert len(made) == 1 and client.requests == [name]
    assert "the-real-key" not in repr(resolved.api_config.auth_config)


def test_an_unreadable_secret_names_the_secret_not_a_value():
    def failing_factory() -> Any:
        raise PermissionError("denied")

    with pytest.raises(ConfigError) as caught:
        resolve_references("${secret:projects/p/secrets/s/versions/3}", secret_client_factory=failing_factory)
    assert caught.value.problems == ["secret projects/p/secrets/s/versions/3: cannot be read (PermissionError: denied)"]


def test_unknown_reference_schemes_are_errors():
    with pytest.raises(ConfigError, match=r"unknown reference \$\{vault:\.\.\.\}: expected env, file or secret"):
        resolve_references("${vault:kv/token}")


# --- dumping ---------------------------------------------------------------------------------------------


def test_dump_then_load_gives_an_equal_config(tmp_path):
    config = load_pipeline_config(FULL_EXAMPLE)
    assert load_pipeline_config(write(tmp_path, dump_pipeline_config(config), "dumped.yaml")) == config


def test_dump_keeps_secret_references_and_masks_literal_secrets(tmp_path):
    oauth = {
        "auth_type": "oauth2",
        "auth_credentials": {
            "token_url": "https://auth.example.com/token",
            "client_id": "client",
            "client_secret": "${secret:projects/p/secrets/oauth/versions/1}",
            "refresh_token": "literal-refresh-token",
            "token_expiry": "2024-06-01T12:00:00+02:00",
        },
    }
    config = load(tmp_path, {"api_config": {"auth_config": oauth}})

    text = dump_pipeline_config(config)

    assert "client_secret: ${secret:projects/p/secrets/oauth/versions/1}" in text
    assert "refresh_token: '**********'" in text
    assert "literal-refresh-token" not in text
    assert "token_expiry: '2024-06-01T10:00:00Z'" in text
    reloaded = load_pipeline_config(write(tmp_path, text, "dumped.yaml"))
    client_secret = reloaded.api_config.auth_config.auth_credentials.client_secret
    assert client_secret.get_secret_value() == "${secret:projects/p/secrets/oauth/versions/1}"


# --- field types and seed constructors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("24h", timedelta(days=1)),
        ("7d", timedelta(days=7)),
        ("0m", timedelta(0)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (3600, timedelta(hours=1)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["-1h", -5, "", "1 hour", "1m1h", True, None])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match=r"^expected a duration like 30s, 15m, 1h, 7d$"):
        parse_duration(text)


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T00:00:00Z",
        "2024-01-01T02:00:00+02:00",
        "2024-01-01T00:00:00",
        "2024-01-01",
        date(2024, 1, 1),
    ],
)
def test_datetimes_are_stored_in_utc(value):
    watermark = WatermarkConfig(initial_watermark=value)
    assert watermark.initial_watermark == datetime(2024, 1, 1, tzinfo=UTC)
    assert watermark.initial_watermark.tzinfo is UTC
    assert watermark.model_dump(mode="json")["initial_watermark"] == "2024-01-01T00:00:00Z"


def test_window_durations_parse():
    window = WindowConfig(window_size="2h", window_offset="30m")
    assert (window.window_size, window.window_offset) == (timedelta(hours=2), timedelta(minutes=30))


def test_pagination_seed_constructors():
    cursor = PaginationConfig.with_cursor("meta.next_cursor", cursor_param="after", page_size=50)
    assert (cursor.strategy, cursor.cursor_path, cursor.cursor_param, cursor.page_size) == (
        "cursor",
        "meta.next_cursor",
        "after",
        50,
    )
    assert PaginationConfig.with_page_numbers(page_size=25) == PaginationConfig(page_size=25)
    assert PaginationConfig.with_offset().strategy == "offset"
    assert PaginationConfig.with_link_header(max_pages=10).max_pages == 10
