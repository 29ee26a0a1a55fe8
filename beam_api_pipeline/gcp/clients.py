"""How the project's Google Cloud clients reach emulators and fakes, one rule for every service: when a service's
variable is set (`BIGQUERY_EMULATOR_HOST`, `STORAGE_EMULATOR_HOST`, `DATAFLOW_ENDPOINT`, `MONITORING_ENDPOINT`),
its clients talk to the endpoint it names (`host:port` or a URL), with anonymous credentials; unset, to the real
service with Application Default Credentials (`emulator_endpoint`, `client_kwargs`, `authorized_session`).

google-cloud-bigquery and google-cloud-storage (and so Beam's gcsio) read their variables themselves; Beam's
own BigQuery client (apitools `BigqueryV2`) has no endpoint option, so `use_emulators()` points its BASE_URL at
the emulator and makes `google.auth.default()` answer anonymous credentials inside this process. Worker processes
(`--direct_running_mode=multi_processing`, a portable runner's workers) inherit the variables, not the patch:
`workers_use_emulators` names `beam_api_pipeline.gcp.emulator_workers` in the run's `--beam_plugins`, which Beam's
worker imports at its start, and that import calls `use_emulators()` there.
"""

from __future__ import annotations

import os
import threading
from typing import Any

BIGQUERY_HOST_VARIABLE = "BIGQUERY_EMULATOR_HOST"
STORAGE_HOST_VARIABLE = "STORAGE_EMULATOR_HOST"
#: Local fakes of the Dataflow REST API and of the Cloud Logging and Monitoring REST APIs (tests/fakes/).
DATAFLOW_ENDPOINT_VARIABLE = "DATAFLOW_ENDPOINT"
MONITORING_ENDPOINT_VARIABLE = "MONITORING_ENDPOINT"
EMULATOR_PROJECT_VARIABLE = "EMULATOR_PROJECT"
DEFAULT_EMULATOR_PROJECT = "test-project"

_patch_lock = threading.Lock()


def _base_url(host: str) -> str:
    host = host.rstrip("/")
    return host if "://" in host else f"http://{host}"


def emulator_endpoint(variable: str) -> str | None:
    """The base URL (`http://host:port`) of the emulator the environment variable `variable` names, or None when
    it is unset: the real service."""
    host = os.environ.get(variable)
    return _base_url(host) if host else None


def client_kwargs(variable: str) -> dict[str, Any]:
    """What a google-cloud client of the service `variable` emulates is built with: the emulator's endpoint and
    anonymous credentials when it is set; nothing (the real service, Application Default Credentials) when not."""
    endpoint = emulator_endpoint(variable)
    if endpoint is None:
        return {}
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return {"credentials": AnonymousCredentials(), "client_options": ClientOptions(api_endpoint=endpoint)}


def authorized_session(variable: str, scopes: list[str]):
    """A requests session for a REST API: anonymous when `variable` names an emulator, else authorized with
    Application Default Credentials for `scopes`."""
    from google.auth.transport.requests import AuthorizedSession

    if emulator_endpoint(variable) is not None:
        from google.auth.credentials import AnonymousCredentials

        return AuthorizedSession(AnonymousCredentials())
    import google.auth

    credentials, _ = google.auth.default(scopes=scopes)
    return AuthorizedSession(credentials)


def emulated() -> bool:
    """Whether BigQuery or GCS is emulated in this process (then clients given no project use the emulator's)."""
    return any(emulator_endpoint(variable) for variable in (BIGQUERY_HOST_VARIABLE, STORAGE_HOST_VARIABLE))


def default_project() -> str | None:
    """The project of clients given none: the emulator's, or None (google-auth's default project)."""
    return os.environ.get(EMULATOR_PROJECT_VARIABLE, DEFAULT_EMULATOR_PROJECT) if emulated() else None


def _anonymous_default(*_args, **_kwargs):
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials(), default_project()


def use_emulators() -> None:
    """Point Beam's BigQuery client at the emulator and make default credentials anonymous; does nothing
    when no emulator is configured. Idempotent; call it before building a pipeline or a client."""
    if not emulated():
        return
    import google.auth
    from apache_beam.internal.gcp import auth as beam_auth

    with _patch_lock:
        google.auth.default = _anonymous_default
        beam_auth._Credentials._credentials_init = False
        bigquery_url = emulator_endpoint(BIGQUERY_HOST_VARIABLE)
        if bigquery_url:
            from apache_beam.io.gcp.internal.clients.bigquery import BigqueryV2

            BigqueryV2.BASE_URL = f"{bigquery_url}/bigquery/v2/"


#: The module Beam's workers import at start (`--beam_plugins`) to call `use_emulators()` in their own process.
EMULATOR_WORKERS_PLUGIN = "beam_api_pipeline.gcp.emulator_workers"


def workers_use_emulators(options) -> None:
    """When an emulator is configured, make the workers of the run with these PipelineOptions call
    `use_emulators()` as they start (Beam's `--beam_plugins`); nothing otherwise. Idempotent."""
    if not emulated():
        return
    from apache_beam.options.pipeline_options import SetupOptions

    setup = options.view_as(SetupOptions)
    plugins = list(setup.beam_plugins or [])
    if EMULATOR_WORKERS_PLUGIN not in plugins:
        setup.beam_plugins = [*plugins, EMULATOR_WORKERS_PLUGIN]


def bigquery_client(project: str | None = None):
    """A google-cloud-bigquery Client, on the emulator when one is configured."""
    from google.cloud import bigquery

    return bigquery.Client(project=project or default_project(), **client_kwargs(BIGQUERY_HOST_VARIABLE))


def storage_client(project: str | None = None):
    """A google-cloud-storage Client, on the emulator when one is configured."""
    from google.cloud import storage

    return storage.Client(project=project or default_project(), **client_kwargs(STORAGE_HOST_VARIABLE))
