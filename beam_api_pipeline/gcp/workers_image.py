"""The image Dataflow workers run: the template's own, so that no launch path can start them without the package.

The Dockerfile bakes the image's name (its build argument `IMAGE`, `make template-image`) into the environment
variable IMAGE_VARIABLE. The Flex Template entry point, submitting a job, adds `--sdk_container_image` with that
name when the launch gave none (`with_workers_image`); without either, workers would start from Beam's stock
image, which lacks beam_api_pipeline, so the launch is refused unless `--setup_file` stages the package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, WorkerOptions

from beam_api_pipeline.core.errors import ConfigError

#: The image's own name, set by templates/Dockerfile from its build argument IMAGE.
IMAGE_VARIABLE = "BEAM_API_PIPELINE_IMAGE"


def workers_image(argv: list[str]) -> str | None:
    """The workers' image `argv` names (`--sdk_container_image`, or Beam's older `--worker_harness_container_image`)."""
    worker = PipelineOptions(argv).view_as(WorkerOptions)
    return worker.sdk_container_image or worker.worker_harness_container_image or None


def with_workers_image(argv: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """`argv` of a job submitted to Dataflow, with `--sdk_container_image` set to this image's own name
    (IMAGE_VARIABLE) when `argv` names no workers' image. ConfigError when neither names one and no
    `--setup_file` stages the package."""
    if workers_image(argv):
        return argv
    own = environ.get(IMAGE_VARIABLE, "").strip()
    if own:
        return [*argv, f"--sdk_container_image={own}"]
    if PipelineOptions(argv).view_as(SetupOptions).setup_file:
        return argv
    raise ConfigError(
        "--sdk_container_image: not given, and this image does not know its own name (build it with "
        f"--build-arg IMAGE=..., as make template-image does, which sets {IMAGE_VARIABLE}); workers would start "
        "from Beam's stock image, which lacks beam_api_pipeline"
    )
