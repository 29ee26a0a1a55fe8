"""The workers' image: `with_workers_image` (the entry point's rule, one case each), and the image's own name
carried from `make template-image` through the Dockerfile's build argument into BEAM_API_PIPELINE_IMAGE."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.gcp.workers_image import IMAGE_VARIABLE, with_workers_image, workers_image
from tests.unit.test_dockerfile import DOCKERFILE, parse

ROOT = Path(__file__).resolve().parents[2]
OWN = "europe-west1-docker.pkg.dev/p/beam-api-pipeline/beam-api-pipeline:abc1234"
ARGS = ["--runner=DataflowRunner", "--pipeline_config=gs://b/p.yaml"]


def test_the_launchers_own_image_is_added_when_the_launch_names_none():
    assert with_workers_image(ARGS, {IMAGE_VARIABLE: OWN}) == [*ARGS, f"--sdk_container_image={OWN}"]


@pytest.mark.parametrize(
    "given", [["--sdk_container_image=gcr.io/p/other:1"], ["--sdk_container_image", "gcr.io/p/other:1"]]
)
def test_an_image_the_launch_names_is_kept(given):
    assert with_workers_image([*ARGS, *given], {IMAGE_VARIABLE: OWN}) == [*ARGS, *given]
    assert workers_image([*ARGS, *given]) == "gcr.io/p/other:1"


def test_beams_older_option_name_counts_as_naming_the_image():
    given = [*ARGS, "--worker_harness_container_image=gcr.io/p/other:1"]
    assert with_workers_image(given, {}) == given


def test_a_setup_file_that_stages_the_package_needs_no_image():
    given = [*ARGS, "--setup_file=./setup.py"]
    assert with_workers_image(given, {IMAGE_VARIABLE: "  "}) == given
    assert workers_image(given) is None


@pytest.mark.parametrize("environ", [{}, {IMAGE_VARIABLE: ""}], ids=["unset", "empty"])
def test_no_image_anywhere_is_refused_in_one_line(environ):
    with pytest.raises(ConfigError) as refused:
        with_workers_image([*ARGS, "--sdk_container_image="], environ)
    assert refused.value.problems == [
        "--sdk_container_image: not given, and this image does not know its own name (build it with --build-arg "
        "IMAGE=..., as make template-image does, which sets BEAM_API_PIPELINE_IMAGE); workers would start from "
        "Beam's stock image, which lacks beam_api_pipeline"
    ]


def test_the_dockerfile_bakes_its_build_argument_into_the_variable():
    text = DOCKERFILE.read_text()
    assert "\nARG IMAGE\n" in text
    assert parse(text).env[IMAGE_VARIABLE] == ""
    assert parse(text.replace("\nARG IMAGE\n", f"\nARG IMAGE={OWN}\n")).env[IMAGE_VARIABLE] == OWN


def test_make_template_image_builds_for_dataflows_platform_with_the_image_name_as_build_argument():
    variables = ["PROJECT=p", "REGION=europe-west1", "BUCKET=b", "TAG=abc1234"]
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "template-image", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    build = next(line for line in done.stdout.splitlines() if line.startswith("docker build"))
    assert build == (
        f'docker build --platform linux/amd64 -f templates/Dockerfile --build-arg IMAGE="{OWN}" -t "{OWN}" .'
    )
