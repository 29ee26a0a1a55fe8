"""The one rule for addresses only this machine reaches (`core.local_urls`), case by case; where Dataflow refuses
them (`validate`'s `_dataflow_problems`, each address a worker connects to); and `rate_limit_store_ca`."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.local_urls import is_local_host, is_local_only
from beam_api_pipeline.run.validate import config_problems, dataflow_args
from tests.support import merged, write_yaml

LOCAL = [
    "http://127.0.0.1:8080",
    "http://127.0.0.2/api",
    "http://127.255.255.254",
    "redis://127.8.9.10:6379/0",
    "http://127.1:8080",  # shorthand for 127.0.0.1
    "http://0x7f.1/",  # hex shorthand
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://0.0.0.0:8080",
    "http://0/",
    "http://[::1]:8080/x",
    "redis://[::1]:6379/0",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::]:80/",
    "http://[::ffff:127.0.0.1]/",
    "http://localhost:8080",
    "https://LOCALHOST./",
    "http://api.localhost/",
    "http://localhost.localdomain/",
    "http://ip6-localhost/",
    "http://ip6-loopback:80/",
    "file:///etc/hosts",
    "file:/tmp/x.json",
    "FILE://host/share",
    "http://user:pw@127.0.0.1:80/",
]
REACHABLE = [
    "https://api.example.com",
    "https://127.example.com",
    "http://localhost-api.example.com",
    "http://mylocalhost/",
    "redis://10.0.0.3:6379/0",
    "rediss://10.0.0.3:6378/0",
    "http://128.0.0.1/",
    "http://[2001:db8::1]/",
    "http://[fe80::1%25eth0]/",
    "/login",
    "${secret:projects/p/secrets/s/versions/latest}",
    "http://[::1/",  # not an address: refused elsewhere, not local
]


@pytest.mark.parametrize("url", LOCAL)
def test_local_only(url):
    assert is_local_only(url) is True


@pytest.mark.parametrize("url", REACHABLE)
def test_reachable_from_elsewhere(url):
    assert is_local_only(url) is False


@pytest.mark.parametrize(("host", "local"), [("[::1]", True), ("127.0.0.3", True), ("10.1.2.3", False)])
def test_a_bare_host(host, local):
    assert is_local_host(host) is local


DATAFLOW_FIT: dict[str, Any] = {
    "pipeline_id": "acme_items",
    "api_config": {"base_url": "https://api.example.com", "endpoints": {"items": {"path": "/items"}}},
    "output": [{"type": "gcs", "config": {"bucket": "acme-lake", "prefix": "raw/"}}],
    "dead_letter": {"path": "gs://acme-lake/dead_letter"},
    "watermark_store": {"type": "bigquery", "table": "acme-data.control.watermarks"},
}
THIS_MACHINE = (
    "names this machine (localhost, 127.0.0.0/8, ::1, 0.0.0.0 or a file: URL), which the Dataflow workers do not "
    "reach; give an address they reach"
)
OAUTH = {"auth_type": "oauth2", "auth_credentials": {"client_id": "c", "refresh_token": "${secret:projects/p/s}"}}
SHARED = {"rate_limit": 10, "rate_limit_mode": "shared"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"api_config": {"base_url": "http://127.0.0.2:8080"}}, f"api_config.base_url: {THIS_MACHINE}"),
        ({"api_config": {"base_url": "http://[::1]:8080"}}, f"api_config.base_url: {THIS_MACHINE}"),
        (
            {"api_config": {"auth_config": merged(OAUTH, {"auth_credentials": {"token_url": "http://0.0.0.0/t"}})}},
            f"api_config.auth_config.auth_credentials.token_url: {THIS_MACHINE}",
        ),
        (
            {"api_config": {**SHARED, "rate_limit_store": "redis://[::1]:6379/0"}},
            "api_config.rate_limit_store: a Redis on this machine is out of the Dataflow workers' reach; give the "
            "address of one they reach, such as a Memorystore instance in the job's network",
        ),
        (
            {"api_config": {**SHARED, "rate_limit_store": "rediss://127.0.0.5:6378/0"}},
            "api_config.rate_limit_store: a Redis on this machine is out of the Dataflow workers' reach; give the "
            "address of one they reach, such as a Memorystore instance in the job's network",
        ),
    ],
    ids=["base-url-127-2", "base-url-ipv6", "token-url", "redis-ipv6", "rediss-127-5"],
)
def test_dataflow_refuses_each_address_a_worker_would_connect_to_on_this_machine(change, problem):
    config = PipelineConfig.model_validate(merged(DATAFLOW_FIT, change))
    assert config_problems(config, "p.yaml", dataflow_args("acme-data")) == [f"p.yaml: {problem}"]
    assert config_problems(config, "p.yaml", []) == []  # a local run may use them


def test_validate_on_dataflow_exits_2_naming_the_key(tmp_path, capsys):
    path = write_yaml(tmp_path / "p.yaml", merged(DATAFLOW_FIT, {"api_config": {"base_url": "http://0.0.0.0:80"}}))
    assert main(["validate", "--config", str(path), "--runner=DataflowRunner", "--project=acme-data"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"{path}: api_config.base_url: {THIS_MACHINE}"]


CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_a_ca_goes_with_a_tls_store_only():
    tls = merged(DATAFLOW_FIT, {"api_config": {**SHARED, "rate_limit_store": "rediss://10.0.0.3:6378/0"}})
    with_ca = PipelineConfig.model_validate(merged(tls, {"api_config": {"rate_limit_store_ca": CA}}))
    assert with_ca.api_config.rate_limit_store_ca.get_secret_value() == CA
    plain = merged(tls, {"api_config": {"rate_limit_store": "redis://10.0.0.3:6379/0", "rate_limit_store_ca": CA}})
    with pytest.raises(ValidationError, match=r"only used with a rediss:// \(TLS\) rate_limit_store"):
        PipelineConfig.model_validate(plain)
