"""`tests.transform_support.Read` on each runner mode the README offers (`tests.support.RUNNER_MODES`): the
local runner's modes through its options, Prism as the TestPipeline's runner."""

from __future__ import annotations

from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from beam_api_pipeline.config import PipelineConfig
from tests import transform_support
from tests.support import runner_mode_args
from tests.transform_support import Read


def _prism_pipeline(*options: str) -> TestPipeline:
    """A TestPipeline on the runner its options name (`--runner=PrismRunner`)."""
    return TestPipeline(options=PipelineOptions(list(options)))


def read_on(mode: str, folder: Path, cfg: PipelineConfig, start: str, end: str) -> Read:
    """`Read(folder, cfg, start, end)` on the runner mode `mode` (a key of RUNNER_MODES); `folder` is made."""
    folder.mkdir(parents=True, exist_ok=True)
    if mode != "prism":
        return Read(folder, cfg, start, end, *runner_mode_args(mode))
    local = transform_support.pipeline
    transform_support.pipeline = _prism_pipeline  # Read builds its pipeline with this module function
    try:
        return Read(folder, cfg, start, end, *runner_mode_args(mode))
    finally:
        transform_support.pipeline = local
