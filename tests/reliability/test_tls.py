"""TLS: certificates are checked by default; a certificate the client does not trust fails the window at once,
with a clear message, and is not retried; `verify_ssl: false` reads the data and warns every run."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sample_api import SampleApi
from tests.support import t


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


@pytest.fixture
def https_api(tmp_path: Path) -> Iterator[SampleApi]:
    with SampleApi(tls=self_signed_context(tmp_path)) as api:
        yield api


def test_an_untrusted_certificate_fails_each_window_once_with_a_clear_message(https_api, pipeline_file, run_pipeline):
    path = pipeline_file(api_config={"base_url": https_api.url})
    outcome = run_pipeline(path, "2024-01-04T00:00:00Z")

    assert outcome.code == 1
    assert outcome.rows == []
    assert sorted((d["window_start"], d["retries"]) for d in outcome.dead) == [
        ("2024-01-02T00:00:00Z", 0),
        ("2024-01-03T00:00:00Z", 0),
    ]
    assert {d["error"].split(" failed: ")[1] for d in outcome.dead} == {
        "the server's TLS certificate was not accepted; fix the certificate, or (for a test server only) set "
        "api_config.verify_ssl: false"
    }
    assert outcome.watermark is None
    assert https_api.stats()["requests"] == 0  # no request got past the handshake


def test_verify_ssl_false_reads_the_data_and_warns_every_run(https_api, pipeline_file, run_pipeline, caplog):
    caplog.set_level(logging.WARNING, logger="beam_api_pipeline.client.api_client")
    path = pipeline_file(api_config={"base_url": https_api.url, "verify_ssl": False})
    first = run_pipeline(path, "2024-01-03T00:00:00Z")
    second = run_pipeline(path, "2024-01-04T00:00:00Z")

    assert (first.code, second.code) == (0, 0)
    assert second.ids == https_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))  # both runs' files
    warnings = [r.getMessage() for r in caplog.records if "verify_ssl is false" in r.getMessage()]
    assert len(warnings) >= 2
