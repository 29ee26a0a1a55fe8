"""`rate_limit_mode: shared` with a `rediss://` store (TLS, as Memorystore with in-transit encryption): a real
Debian `redis-server` serving TLS only, with a throwaway CA and server certificate made by `openssl` per test.
With `rate_limit_store_ca` the job-wide bucket is in Redis; with another CA, or none (the system's CAs), the
connection is refused and the process keeps to its share, and says so."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from beam_api_pipeline.client.build import budget_share, client_limits
from beam_api_pipeline.client.redis_bucket import RedisPacer, bucket_key
from beam_api_pipeline.config import PipelineConfig
from tests.redis_server import _free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder: Path, name: str) -> Path:
    """A self-signed CA `name`.pem (key `name`.key) in `folder`."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)  # fmt: skip
    return folder / f"{name}.pem"


@dataclass(frozen=True)
class TlsRedis:
    url: str
    ca: str  # the PEM of the CA that signed the server's certificate
    port: int


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    """redis-server on 127.0.0.1 serving TLS only, its certificate (for IP 127.0.0.1) signed by a new CA."""
    ca = make_ca(tmp_path, "ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=redis", "-keyout", "server.key",
            "-out", "server.csr", cwd=tmp_path)  # fmt: skip
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-extfile", "san.ext", "-out", "server.pem", cwd=tmp_path)  # fmt: skip
    port = _free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", "0", "--tls-port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(tmp_path), "--tls-cert-file", "server.pem"]
    command += ["--tls-key-file", "server.key", "--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = TlsRedis(f"rediss://127.0.0.1:{port}/0", ca.read_text(), port)
    try:
        client = tls_client(server)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                process.poll()
                assert process.returncode is None, "redis-server exited: does it support TLS?"
                time.sleep(0.05)
        yield server
    finally:
        process.kill()
        process.wait(timeout=10)


def tls_client(server: TlsRedis) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, ssl=True, ssl_ca_data=server.ca, socket_timeout=1)


def shared_config(store: str, ca: str | None, pipeline_id: str) -> PipelineConfig:
    api = {"base_url": "https://api.example.com", "endpoints": {"items": {"path": "/items"}}}
    api |= {"rate_limit": 50, "rate_limit_mode": "shared", "rate_limit_store": store}
    if ca is not None:
        api["rate_limit_store_ca"] = ca
    return PipelineConfig.model_validate({"pipeline_id": pipeline_id, "api_config": api})


def test_with_its_ca_the_job_wide_bucket_is_in_the_tls_redis(tls_redis, caplog):
    config = shared_config(tls_redis.url, tls_redis.ca, "tls_with_ca")
    limits = client_limits(config, budget_share(config, 4))
    assert isinstance(limits.pacer, RedisPacer)

    with caplog.at_level(logging.WARNING):
        assert limits.pacer.acquire() == 0

    assert caplog.messages == []
    bucket = tls_client(tls_redis).hgetall(bucket_key("tls_with_ca"))
    assert set(bucket) == {b"tokens", b"at"}
    assert float(bucket[b"tokens"]) == 50 * 0.1 - 1  # the burst (0.1 s of 50/s) less the one token taken


@pytest.mark.parametrize("ca", ["other", None], ids=["another-ca", "system-cas"])
def test_a_server_the_ca_does_not_vouch_for_leaves_the_process_on_its_share(tls_redis, tmp_path, caplog, ca):
    other = make_ca(tmp_path, "other").read_text() if ca == "other" else None
    pipeline_id = f"tls_{ca or 'none'}"
    config = shared_config(tls_redis.url, other, pipeline_id)
    limits = client_limits(config, budget_share(config, 4))

    with caplog.at_level(logging.WARNING):
        limits.pacer.acquire()

    assert caplog.messages == [
        "rate_limit_store failed (ConnectionError); this process keeps to its share, 12.5 requests/s, and asks "
        "again every 5 s"
    ]
    assert tls_client(tls_redis).exists(bucket_key(pipeline_id)) == 0
