"""Pipeline configuration: pydantic models for every section of a pipeline file, loading and references.

``load_pipeline_config`` reads and validates a file (references kept as written); ``resolve_config`` resolves
``${env:}`` / ``${file:}`` / ``${secret:}`` references on the worker at run time.
"""

from .alerts import AlertCondition, AlertsConfig
from .api import ApiConfig, EndpointConfig, TransformConfig
from .auth import (
    ApiKeyAuthConfig,
    ApiKeyCredentials,
    AuthConfig,
    BasicAuthConfig,
    BasicCredentials,
    BearerAuthConfig,
    BearerCredentials,
    LoginAuthConfig,
    LoginCredentials,
    NoAuthConfig,
    NoCredentials,
    OAuth2AuthConfig,
    OAuthConfig,
)
from .base import StrictModel
from .env import EnvConfig, RateLimitsConfig, ServiceConfig
from .fields import Duration, PositiveDuration, Secret, UtcDatetime, format_duration, parse_duration
from .loading import dump_pipeline_config, load_env_config, load_pipeline_config
from .outputs import (
    BigQueryOutputConfig,
    BigQueryOutputSettings,
    GcsOutputConfig,
    GcsOutputSettings,
    LocalOutputConfig,
    LocalOutputSettings,
    OutputConfig,
)
from .pagination import PaginationConfig
from .parallel import (
    CalculatedOffsetParallelConfig,
    KnownPagesParallelConfig,
    ParallelConfig,
    TimeWindowParallelConfig,
)
from .pipeline import PipelineConfig
from .quality import QualityAction, QualityCheckConfig, QualityCheckName
from .references import resolve_config, resolve_references
from .retry import RetryConfig
from .stores import (
    BigQueryWatermarkStoreConfig,
    DeadLetterConfig,
    LocalWatermarkStoreConfig,
    WatermarkStoreConfig,
)
from .streaming import StreamingConfig
from .watermark import WatermarkConfig, WindowConfig

__all__ = [
    "AlertCondition",
    "AlertsConfig",
    "ApiConfig",
    "ApiKeyAuthConfig",
    "ApiKeyCredentials",
    "AuthConfig",
    "BasicAuthConfig",
    "BasicCredentials",
    "BearerAuthConfig",
    "BearerCredentials",
    "BigQueryOutputConfig",
    "BigQueryOutputSettings",
    "BigQueryWatermarkStoreConfig",
    "CalculatedOffsetParallelConfig",
    "DeadLetterConfig",
    "Duration",
    "EndpointConfig",
    "EnvConfig",
    "GcsOutputConfig",
    "GcsOutputSettings",
    "KnownPagesParallelConfig",
    "LocalOutputConfig",
    "LocalOutputSettings",
    "LocalWatermarkStoreConfig",
    "LoginAuthConfig",
    "LoginCredentials",
    "NoAuthConfig",
    "NoCredentials",
    "OAuth2AuthConfig",
    "OAuthConfig",
    "OutputConfig",
    "PaginationConfig",
    "ParallelConfig",
    "PipelineConfig",
    "PositiveDuration",
    "QualityAction",
    "QualityCheckConfig",
    "QualityCheckName",
    "RateLimitsConfig",
    "RetryConfig",
    "Secret",
    "ServiceConfig",
    "StreamingConfig",
    "StrictModel",
    "TimeWindowParallelConfig",
    "TransformConfig",
    "UtcDatetime",
    "WatermarkConfig",
    "WatermarkStoreConfig",
    "WindowConfig",
    "dump_pipeline_config",
    "format_duration",
    "load_env_config",
    "load_pipeline_config",
    "parse_duration",
    "resolve_config",
    "resolve_references",
]
