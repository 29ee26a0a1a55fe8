"""Secrets stay on the worker: the pipeline Dataflow would stage (its runner API proto, every pickled DoFn in
it unpacked) holds the `${env:...}` references, never the values; a literal secret would show (the control)."""

from __future__ import annotations

import base64
import bz2
import zlib
from datetime import UTC, datetime

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.plan.run_plan import make_plan
from beam_api_pipeline.run.factory import PipelineFactory

SECRETS = {
    "CLIENT_SECRET": "client-secret-Vx81",
    "REFRESH_TOKEN": "refresh-token-Qp27",
    "ACCESS_TOKEN": "access-token-Lm55",
}


def oauth2(values: dict[str, str]) -> dict:
    return {
        "auth_type": "oauth2",
        "auth_credentials": {
            "token_url": "https://auth.example.com/oauth/token",
            "client_id": "client",
            "client_secret": values["CLIENT_SECRET"],
            "refresh_token": values["REFRESH_TOKEN"],
            "access_token": values["ACCESS_TOKEN"],
        },
    }


def _unpacked(payload: bytes) -> bytes:
    """A Beam-pickled payload (base64 of bz2 or zlib), or the bytes as they are."""
    try:
        packed = base64.b64decode(payload, validate=True)
    except ValueError:
        return payload
    for decompress in (bz2.decompress, zlib.decompress):
        try:
            return decompress(packed)
        except (OSError, ValueError, zlib.error):
            continue
    return payload


def staged_bytes(config) -> list[bytes]:
    """The serialized pipeline proto, and every function payload in it unpacked."""
    with opened_store(config.watermark_store) as store:
        plan = make_plan(config, store, end_time=datetime(2024, 1, 4, tzinfo=UTC))
    pipeline = beam.Pipeline(options=PipelineOptions([]))
    PipelineFactory(config, plan).build(pipeline)
    proto = pipeline.to_runner_api()
    blobs = [proto.SerializeToString()]
    for transform in proto.components.transforms.values():
        if transform.spec.urn == "beam:transform:pardo:v1":
            payload = beam.portability.api.beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
            blobs.append(_unpacked(payload.do_fn.payload))
    return blobs


@pytest.mark.parametrize("form", ["references", "literal"])
def test_the_staged_pipeline_holds_references_not_secrets(form, write_config, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    values = {name: f"${{env:{name}}}" for name in SECRETS} if form == "references" else SECRETS
    _, config = write_config(api_config={"auth_config": oauth2(values)})
    blobs = staged_bytes(config)
    assert len(blobs) > 3  # the proto and the pickled DoFns

    found = {name for name, value in SECRETS.items() if any(value.encode() in blob for blob in blobs)}
    if form == "references":
        assert found == set()
        assert any(b"${env:CLIENT_SECRET}" in blob for blob in blobs[1:])  # the reference travels instead
    else:
        assert found == set(SECRETS)  # the control: the check does see a secret in a pickled DoFn
