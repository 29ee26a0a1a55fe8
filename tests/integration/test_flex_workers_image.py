"""The Flex Template entry file run as Dataflow's launcher runs it (`python .../flex_template.py --name=value ...`
with `--runner=DataflowRunner`), as a job built with Beam's `--dry_run=True` (nothing is submitted): the workers
get the image the launch names, else the image's own name (`BEAM_API_PIPELINE_IMAGE`, from the Dockerfile's
build argument), else the launch is refused. The control store is the BigQuery emulator's, as on Dataflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from beam_api_pipeline.gcp.workers_image import IMAGE_VARIABLE
from tests.support import dataflow_items_config, write_yaml

ROOT = Path(__file__).resolve().parents[2]
OWN_IMAGE = "europe-west1-docker.pkg.dev/acme-data/beam-api-pipeline/beam-api-pipeline:abc1234"
OTHER_IMAGE = "europe-west1-docker.pkg.dev/acme-data/beam-api-pipeline/beam-api-pipeline:def5678"


@pytest.fixture
def launcher(tmp_path, project, control_table):
    """Runs the entry file as the launcher does, for a Dataflow-fit config, with `environ` and `parameters`."""
    config = dataflow_items_config(tmp_path, control_table)
    path = write_yaml(tmp_path / "acme_items.yaml", config)

    def launch(environ: dict[str, str], *parameters: str) -> subprocess.CompletedProcess:
        args = [sys.executable, str(ROOT / "beam_api_pipeline" / "flex_template.py"), "--runner=DataflowRunner"]
        args += ["--dry_run=True", f"--project={project}", "--region=europe-west1", "--temp_location=gs://acme-lake/t"]
        args += [f"--pipeline_config={path}", "--end_time=2024-01-04T00:00:00Z", *parameters]
        base = {key: value for key, value in os.environ.items() if key != IMAGE_VARIABLE}
        return subprocess.run(
            args,
            cwd=tmp_path,
            env={**base, "PYTHONPATH": str(ROOT), **environ},
            capture_output=True,
            text=True,
            timeout=300,
        )

    return launch


def submitted_endings(done: subprocess.CompletedProcess) -> set[str]:
    """The ends, from the pipeline id on, of the log lines that say the job was submitted."""
    return {line[line.index(" of ") :] for line in done.stderr.splitlines() if "submitted to Dataflow" in line}


def test_without_the_parameter_the_workers_run_the_launchers_own_image(launcher):
    done = launcher({IMAGE_VARIABLE: OWN_IMAGE})
    assert done.returncode == 0, done.stderr[-3000:]
    assert submitted_endings(done) == {f" of acme_items submitted to Dataflow; workers run {OWN_IMAGE}"}


def test_the_parameter_names_the_workers_image_over_the_launchers_own(launcher):
    done = launcher({IMAGE_VARIABLE: OWN_IMAGE}, f"--sdk_container_image={OTHER_IMAGE}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert submitted_endings(done) == {f" of acme_items submitted to Dataflow; workers run {OTHER_IMAGE}"}


def test_an_image_that_does_not_know_its_name_refuses_a_launch_without_the_parameter(launcher):
    done = launcher({})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "--sdk_container_image: not given, and this image does not know its own name (build it with --build-arg "
        "IMAGE=..., as make template-image does, which sets BEAM_API_PIPELINE_IMAGE); workers would start from "
        "Beam's stock image, which lacks beam_api_pipeline"
    ]
    assert done.stdout == ""
