"""`${secret:...}` references resolved through the real google-cloud-secret-manager client (REST transport)
against a local fake of the Secret Manager API, as a worker resolves them in DoFn.setup()."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import secretmanager

from beam_api_pipeline.config import PipelineConfig, resolve_config
from beam_api_pipeline.core.errors import ConfigError

SECRETS = {"projects/acme/secrets/github-token/versions/3": "ghp_fake_value_123"}


class _FakeSecretManager(BaseHTTPRequestHandler):
    """`GET /v1/{name}:access` as Secret Manager's REST API answers it; 404 for unknown secrets."""

    requested: list[str] = []

    def log_message(self, format, *args) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        name = self.path.split("?")[0].removeprefix("/v1/").removesuffix(":access")
        self.requested.append(name)
        if name in SECRETS:
            data = base64.b64encode(SECRETS[name].encode()).decode()
            status, body = 200, {"name": name, "payload": {"data": data}}
        else:
            status, body = 404, {"error": {"code": 404, "message": f"Secret [{name}] not found", "status": "NOT_FOUND"}}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def secret_manager_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSecretManager)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeSecretManager.requested = []
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def config_with(token: str) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "pipeline_id": "gh",
            "api_config": {
                "base_url": "https://api.github.com",
                "endpoints": {"issues": {"path": "/repos/acme/widgets/issues"}},
                "auth_config": {"auth_type": "bearer", "auth_credentials": {"token": token}},
            },
        }
    )


def client_factory(url: str):
    return lambda: secretmanager.SecretManagerServiceClient(
        transport="rest", credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=url)
    )


def test_a_secret_reference_is_read_from_secret_manager(secret_manager_url):
    config = config_with("${secret:projects/acme/secrets/github-token/versions/3}")
    resolved = resolve_config(config, secret_client_factory=client_factory(secret_manager_url))
    assert resolved.api_config.auth_config.auth_credentials.token.get_secret_value() == "ghp_fake_value_123"
    assert _FakeSecretManager.requested == ["projects/acme/secrets/github-token/versions/3"]
    assert "ghp_fake_value_123" not in repr(resolved)


def test_a_missing_secret_is_named_with_its_key(secret_manager_url):
    config = config_with("${secret:projects/acme/secrets/nope}")
    with pytest.raises(ConfigError) as raised:
        resolve_config(config, secret_client_factory=client_factory(secret_manager_url))
    message = str(raised.value)
    assert message.startswith(
        "api_config.auth_config.auth_credentials.token: secret projects/acme/secrets/nope/versions/latest: "
        "cannot be read (NotFound: 404"
    )
    assert _FakeSecretManager.requested == ["projects/acme/secrets/nope/versions/latest"]
