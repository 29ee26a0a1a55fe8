"""Dataflow job construction, without Google Cloud: each example in templates/pipelines/dataflow/ (and the polling
form of those that can poll, and each BigQuery write method) is built as the template's entry point builds it
(`check_config`, then `prepare_run` on DataflowRunner) with Beam's `--dry_run=True`, which builds the whole job
and stops before staging or submitting it; no socket may connect and no name may be resolved meanwhile. The job
description Dataflow would get is made from it by Beam's own `apiclient.Environment` (what Beam sends but for the
staged files' URLs).

What Dataflow needs, asserted for each: Runner v2; the workers on the template's image; nothing staged for the
workers to pip-install; Streaming Engine for a polling job; each splittable read with the project's restriction
coder (what Dataflow checkpoints and splits); no path of this machine's data in the graph, and no
secret (no secret is read while the job is built: a `${secret:...}` reference travels as written, resolved on
the workers); the pipeline proto under
MAX_GRAPH_BYTES (Dataflow refuses a job request over 10 MB)."""

from __future__ import annotations

import base64
import bz2
import re
import socket
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from apache_beam.portability import common_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.dataflow.internal import apiclient

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config import references as config_references
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.run.prepare import prepare_run
from beam_api_pipeline.run.validate import check_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "templates" / "pipelines" / "dataflow"
IMAGE = "europe-west1-docker.pkg.dev/my-project/beam-api-pipeline/beam-api-pipeline:abc1234"
DATAFLOW = ["--runner=DataflowRunner", "--project=my-project", "--region=europe-west1"]
DATAFLOW += ["--temp_location=gs://my-bucket/temp", f"--sdk_container_image={IMAGE}", "--dry_run=True"]
#: The largest pipeline proto accepted here: the largest example builds about 0.6 MB.
MAX_GRAPH_BYTES = 1_000_000
#: What Beam stages for every Python job; neither is installed by the workers (no requirements file, no sdist,
#: no wheel, no extra package: the image holds them).
STAGED = {"pickled_main_session", "submission_environment_dependencies.txt"}
RUNNER_V2 = {"beam_fn_api", "use_runner_v2", "use_unified_worker", "use_portable_job_submission"}
STREAMING_ENGINE = {"enable_streaming_engine", "enable_windmill_service"}


def example(name: str, polling: bool = False, method: str | None = None) -> PipelineConfig:
    """The example `name`; `polling`: its streaming form (BigQuery by streaming inserts, appended: what a polling
    job writes with); `method`: each BigQuery output written with it."""
    data = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    for output in data["output"]:
        if output["type"] == "bigquery" and polling:
            output["config"] |= {"method": "streaming_inserts", "write_disposition": "append"}
        if output["type"] == "bigquery" and method:
            output["config"]["method"] = method
    if polling:
        data["streaming"] = {"enabled": True, "poll_interval": "5m"}
    return PipelineConfig.model_validate(data)


def test_every_example_is_covered():
    assert sorted(path.stem for path in EXAMPLES.glob("*.yaml")) == ["github_issues", "graphql_events", "weather"]


def test_an_example_with_child_endpoints_has_no_polling_form():
    with pytest.raises(ValueError, match=r"not supported when streaming\.enabled is true"):
        example("github_issues", polling=True)


def test_storage_write_api_is_refused_before_a_job_is_built():
    with pytest.raises(ConfigError) as refused:
        check_config(example("graphql_events", method="storage_write_api"), "graphql_events.yaml", DATAFLOW)
    assert [line.split(": ", 2)[1] for line in refused.value.problems] == ["output.0.config.method"]


class NoNetwork:
    """Makes every socket connection and name lookup of this process fail, and records each attempt."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.attempts: list[str] = []
        for name, target in (("connect", socket.socket), ("connect_ex", socket.socket), ("getaddrinfo", socket)):
            monkeypatch.setattr(target, name, self._refuse(name))

    def _refuse(self, name: str):
        def refuse(*args: Any, **kwargs: Any):
            self.attempts.append(f"{name}{args[1:2] if name.startswith('connect') else args[:2]}")
            raise OSError(f"no network in a dry run: {name}")

        return refuse


def decoded_graph(pipeline: beam_runner_api_pb2.Pipeline) -> bytes:
    """The pipeline proto's bytes, followed by every pickled payload in it decoded (Beam stores them as base64 of
    zlib- or bz2-compressed pickles), so that a search sees what the workers will unpickle."""
    raw = pipeline.SerializeToString()
    plain = []
    for match in re.finditer(rb"[A-Za-z0-9+/]{64,}={0,2}", raw):
        try:
            packed = base64.b64decode(match.group(0), validate=True)
        except ValueError:
            continue
        for decompress in (zlib.decompress, bz2.decompress):
            try:
                plain.append(decompress(packed))
                break
            except (zlib.error, OSError, ValueError):
                continue
    return raw + b"".join(plain)


#: The restriction coders a job may carry: the project's own (`fetch/walk_restriction.py`,
#: `fetch/range_restriction.py`), and Beam's for its PeriodicImpulse (the poll ticks of a streaming job).
KNOWN_CODERS = ("PageWalkCoder", "OffsetRangeCoder", "FastPrimitivesCoder")
WALK = {"ReadFromApi/WalkPages/ParDo(WalkPagesFn)": "PageWalkCoder"}
CHILDREN = {"FetchChildren[1]/FetchChildTasks/ParDo(FetchChildTasksFn)": "OffsetRangeCoder"}
TICKS = {"PlanPolls/Ticks/GenSequence": "FastPrimitivesCoder"}


def restriction_coders(pipeline: beam_runner_api_pb2.Pipeline) -> dict[str, str]:
    """Splittable ParDo -> the class of its restriction's coder (the pickled coder's payload names it)."""
    components = pipeline.components
    found = {}
    for transform in components.transforms.values():
        if transform.spec.urn != common_urns.primitives.PAR_DO.urn:
            continue
        payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
        if payload.restriction_coder_id:
            restriction_id = components.coders[payload.restriction_coder_id].component_coder_ids[0]
            pickled = components.coders[restriction_id].spec.payload
            found[transform.unique_name] = next(name for name in KNOWN_CODERS if name.encode() in pickled)
    return found


def staged_files(pipeline: beam_runner_api_pb2.Pipeline) -> dict[str, str]:
    """Staged name -> local path of each file Beam stages for the workers' environments."""
    staged = {}
    for environment in pipeline.components.environments.values():
        for artifact in environment.dependencies:
            name = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(artifact.role_payload).staged_name
            staged[name] = beam_runner_api_pb2.ArtifactFilePayload.FromString(artifact.type_payload).path
    return staged


CASES = [
    pytest.param("github_issues", False, None, WALK | CHILDREN, id="github_issues-batch-file_loads-merge"),
    pytest.param("graphql_events", False, None, WALK, id="graphql_events-batch-file_loads"),
    pytest.param("graphql_events", False, "streaming_inserts", WALK, id="graphql_events-batch-streaming_inserts"),
    pytest.param("weather", False, None, WALK, id="weather-batch-gcs"),
    pytest.param("graphql_events", True, None, WALK | TICKS, id="graphql_events-streaming-streaming_inserts"),
    pytest.param("weather", True, None, WALK | TICKS, id="weather-streaming-gcs"),
]


@pytest.mark.parametrize(("name", "polling", "method", "splittable"), CASES)
def test_the_dataflow_job_is_built_without_network_as_dataflow_needs_it(
    name, polling, method, splittable, tmp_path, monkeypatch
):
    config = example(name, polling, method)
    secret_reads: list[str] = []
    monkeypatch.setattr(config_references, "_secret_manager_client", lambda: secret_reads.append("client"))
    check_config(config, f"{name}.yaml", DATAFLOW)
    store = LocalWatermarkStore(str(tmp_path / "control.db"))
    window = {} if polling else {"start_time": datetime(2025, 1, 1, tzinfo=UTC)}
    window |= {} if polling else {"end_time": datetime(2025, 1, 8, tzinfo=UTC)}
    network = NoNetwork(monkeypatch)

    pipeline, _plan = prepare_run(config, store, DATAFLOW, run_id="20250108T000000Z-0a1b2c3d", **window)
    job = pipeline.run().job
    environment = apiclient.Environment(
        [], job.options, apiclient._FNAPI_ENVIRONMENT_MAJOR_VERSION, "gs://my-bucket/staging/pipeline.pb",
        job.proto_pipeline,
    ).proto  # fmt: skip
    store.close()

    assert network.attempts == []
    assert secret_reads == []
    experiments = set(environment.experiments)
    assert experiments >= RUNNER_V2
    assert (experiments >= STREAMING_ENGINE) is polling
    assert [
        [image.container_image for image in pool.sdk_harness_container_images] for pool in environment.worker_pools
    ] == [[IMAGE]]
    assert restriction_coders(job.proto_pipeline) == splittable
    staged = staged_files(job.proto_pipeline)
    assert set(staged) == STAGED
    graph = decoded_graph(job.proto_pipeline)
    assert len(job.proto_pipeline.SerializeToString()) < MAX_GRAPH_BYTES
    local_paths = {m.group(0).decode() for m in re.finditer(rb"/(?:tmp|work|root|home)/[\x21-\x7e]*", graph)}
    data_paths = {path for path in local_paths if not re.search(r"\.py\W?$", path)}  # code file names are kept
    assert data_paths == set(staged.values())  # only what Beam uploads itself
    assert str(tmp_path).encode() not in graph
    written = set(re.findall(r"\$\{secret:[^}]+\}", (EXAMPLES / f"{name}.yaml").read_text()))
    assert {found.decode() for found in re.findall(rb"\$\{secret:[^}]+\}", graph)} == written  # as written


def test_the_guard_stops_and_records_a_connection_and_a_lookup(monkeypatch):
    network = NoNetwork(monkeypatch)
    with pytest.raises(OSError, match="no network in a dry run"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with pytest.raises(OSError, match="no network in a dry run"):
        socket.getaddrinfo("dataflow.googleapis.com", 443)
    assert network.attempts == ["getaddrinfo('127.0.0.1', 9)", "getaddrinfo('dataflow.googleapis.com', 443)"]
