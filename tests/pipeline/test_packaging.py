"""Worker packaging: the entry file as the image runs it, the package Beam stages from setup.py, and the
pickled DoFns, which must carry configs only: no client, no session, no resolved secret."""

from __future__ import annotations

import base64
import bz2
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import tenacity
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns, python_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability.stager import Stager
from pydantic import SecretStr

from beam_api_pipeline.client.api_client import ApiClient
from beam_api_pipeline.config.options import read_template_run
from beam_api_pipeline.flex_template import build_pipeline
from tests.support import read_jsonl, t

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "beam_api_pipeline"
TOKEN = "flex-token-5b0d7c1e9a"  # given to the pipeline only as ${env:FLEX_TEST_TOKEN}
SECRET_CONFIG = {
    "api_config": {"auth_config": {"auth_type": "bearer", "auth_credentials": {"token": "${env:FLEX_TEST_TOKEN}"}}}
}
UNPICKLABLE_STATE = (requests.Session, ApiClient, tenacity.BaseRetrying)


def package_files(root: Path) -> set[str]:
    """Every file of the package under ``root``, relative to it (caches left out)."""
    return {
        path.relative_to(root).as_posix()
        for path in (root / "beam_api_pipeline").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def shipped_dofns(pipeline) -> Iterator[tuple[str, bytes]]:
    """``(transform name, unpickled payload bytes)`` of every DoFn in the job graph a runner receives."""
    proto = pipeline.to_runner_api()
    for transform in proto.components.transforms.values():
        if transform.spec.urn == common_urns.primitives.PAR_DO.urn:
            payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
            if payload.do_fn.urn == python_urns.PICKLED_DOFN_INFO:
                yield transform.unique_name, payload.do_fn.payload


def decompressed(payload: bytes) -> bytes:
    """The pickle bytes inside Beam's base64 + bz2 (or zlib) envelope."""
    packed = base64.b64decode(payload)
    try:
        return bz2.decompress(packed)
    except OSError:
        return zlib.decompress(packed)


def reachable(root: Any) -> Iterator[Any]:
    """Every object reachable from ``root`` through attributes and containers."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        item = pending.pop()
        if id(item) in seen or isinstance(item, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        elif not isinstance(item, type):
            pending.extend(getattr(item, "__dict__", {}).values())
            pending.extend(getattr(item, name) for name in getattr(type(item), "__slots__", ()) if hasattr(item, name))


def test_the_image_entry_file_runs_with_setup_file_and_cloudpickle(sample_api, write_config, tmp_path):
    """As in the image: flex_template.py copied beside the package, run as a script, with the Beam options the
    launcher adds for a package (--setup_file) and the pickler the workers use."""
    path, _ = write_config(**SECRET_CONFIG)
    template = tmp_path / "template"
    template.mkdir()
    shutil.copy(PACKAGE / "flex_template.py", template / "flex_template.py")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "FLEX_TEST_TOKEN": TOKEN}
    done = subprocess.run(
        [
            sys.executable,
            str(template / "flex_template.py"),
            "--setup_file=./setup.py",
            "--pickle_library=cloudpickle",
            f"--pipeline_config={path}",
            "--end_time=2024-01-04T00:00:00Z",
            "--log_level=WARNING",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    ids = [row["id"] for row in read_jsonl(tmp_path / "out")]
    assert sorted(ids) == sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))
    assert len(ids) == len(set(ids)) == 96
    assert done.stdout.splitlines()[2].endswith("  (none) -> 2024-01-04T00:00:00Z")
    assert TOKEN not in done.stdout + done.stderr


def test_the_staged_package_holds_every_module_and_data_file_and_loads_the_dofns_alone(
    sample_api, write_config, tmp_path, monkeypatch
):
    """Stage as Dataflow does (Beam's Stager builds the sdist from setup.py), install it the way pip does
    (setup.py build), then unpickle the job's DoFns in a process that has only that installed copy."""
    source, staging, site = tmp_path / "source", tmp_path / "staging", tmp_path / "site"
    staging.mkdir()
    # The files the image copies, so that building leaves nothing behind in the repository.
    shutil.copytree(PACKAGE, source / "beam_api_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "pyproject.toml"):
        shutil.copy(ROOT / name, source / name)
    options = PipelineOptions([f"--setup_file={source / 'setup.py'}", "--sdk_location=container"])
    Stager.create_job_resources(options, str(staging), log_submission_env_dependencies=False)
    (sdist,) = staging.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "sdist", filter="data")
    (unpacked,) = (tmp_path / "sdist").iterdir()
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build", "--build-lib", str(site)],
        cwd=unpacked,
        check=True,
        capture_output=True,
    )

    expected = package_files(ROOT)
    assert package_files(unpacked) == package_files(site) == expected

    monkeypatch.setenv("FLEX_TEST_TOKEN", TOKEN)
    path, _ = write_config(**SECRET_CONFIG)
    pipeline, _ = build_pipeline(read_template_run(PipelineOptions([f"--pipeline_config={path}"])), [])
    (tmp_path / "dofns.pickle").write_bytes(pickle.dumps(dict(shipped_dofns(pipeline))))
    check = textwrap.dedent(
        """
        import pickle, pkgutil, importlib, sys
        import beam_api_pipeline
        from apache_beam.internal import pickler
        assert beam_api_pipeline.__file__.startswith(sys.argv[1]), beam_api_pipeline.__file__
        for module in pkgutil.walk_packages(beam_api_pipeline.__path__, "beam_api_pipeline."):
            if not module.name.endswith("__main__"):  # the command line: it would run
                importlib.import_module(module.name)
        for name, payload in sorted(pickle.load(open("dofns.pickle", "rb")).items()):
            fn = pickler.loads(payload)[0]
            print(name, type(fn).__module__, type(fn).__qualname__)
        """
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check, str(site)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "beam_api_pipeline.fetch.walk_fetch WalkPagesFn" in loaded.stdout
    assert "beam_api_pipeline.run.commit _CommitFn" in loaded.stdout


def test_pickled_dofns_carry_no_client_session_or_secret(write_config, monkeypatch):
    monkeypatch.setenv("FLEX_TEST_TOKEN", TOKEN)
    path, _ = write_config(**SECRET_CONFIG)
    argv = [f"--pipeline_config={path}", "--pickle_library=cloudpickle"]
    pipeline, _ = build_pipeline(read_template_run(PipelineOptions(argv)), argv)

    dofns = dict(shipped_dofns(pipeline))
    assert len(dofns) >= 5
    fetch = next(payload for name, payload in dofns.items() if "WalkPages" in name)
    assert b"${env:FLEX_TEST_TOKEN}" in decompressed(fetch)  # the reference travels, to be resolved on workers
    for name, payload in dofns.items():
        assert TOKEN.encode() not in decompressed(payload), name
        for item in reachable(pickler.loads(payload)):
            assert not isinstance(item, UNPICKLABLE_STATE), f"{name}: {type(item).__name__}"
            if isinstance(item, SecretStr):
                assert item.get_secret_value().startswith("${"), name
    assert TOKEN.encode() not in pipeline.to_runner_api().SerializeToString()
