"""Emulator endpoints: when `BIGQUERY_EMULATOR_HOST` / `STORAGE_EMULATOR_HOST` are set, every BigQuery and GCS
client the project builds talks to them, with anonymous credentials.

google-cloud-bigquery and google-cloud-storage (and so Beam's gcsio) read these variables themselves; Beam's
own BigQuery client (apitools `BigqueryV2`) has no endpoint option, so `use_emulators()` points its BASE_URL at
the emulator and makes `google.auth.default()` answer anonymous credentials inside this process. That is enough
for DirectRunner (in-process and multi-thread modes); worker processes of other runners do not inherit it.
"""

from __future__ import annotations

import os
import threading

BIGQUERY_HOST_VARIABLE = "BIGQUERY_EMULATOR_HOST"
STORAGE_HOST_VARIABLE = "STORAGE_EMULATOR_HOST"
EMULATOR_PROJECT_VARIABLE = "EMULATOR_PROJECT"
DEFAULT_EMULATOR_PROJECT = "test-project"

_patch_lock = threading.Lock()


def _base_url(host: str) -> str:
    host = host.rstrip("/")
    return host if "://" in host else f"http://{host}"


def bigquery_emulator() -> str | None:
    """The BigQuery emulator's base URL (`http://host:port`), or None for real BigQuery."""
    host = os.environ.get(BIGQUERY_HOST_VARIABLE)
    return _base_url(host) if host else None


def storage_emulator() -> str | None:
    """The GCS emulator's base URL, or None for real GCS."""
    host = os.environ.get(STORAGE_HOST_VARIABLE)
    return _base_url(host) if host else None


def emulated() -> bool:
    """Whether any Google Cloud service is emulated in this process."""
    return bigquery_emulator() is not None or storage_emulator() is not None


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
        bigquery_url = bigquery_emulator()
        if bigquery_url:
            from apache_beam.io.gcp.internal.clients.bigquery import BigqueryV2

            BigqueryV2.BASE_URL = f"{bigquery_url}/bigquery/v2/"


def bigquery_client(project: str | None = None):
    """A google-cloud-bigquery Client, on the emulator when one is configured."""
    from google.cloud import bigquery

    emulator = bigquery_emulator()
    if emulator is None:
        return bigquery.Client(project=project)
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return bigquery.Client(
        project=project or default_project(),
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=emulator),
    )


def storage_client(project: str | None = None):
    """A google-cloud-storage Client, on the emulator when one is configured."""
    from google.cloud import storage

    if storage_emulator() is None:
        return storage.Client(project=project)
    from google.auth.credentials import AnonymousCredentials

    return storage.Client(project=project or default_project(), credentials=AnonymousCredentials())
