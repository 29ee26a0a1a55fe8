"""`tests.transform_support.Read` on each runner mode the README offers (`tests.support.RUNNER_MODES`): the
local runner's modes and Prism, through their options (`transform_support.pipeline`)."""

from __future__ import annotations

from pathlib import Path

from beam_api_pipeline.config import PipelineConfig
from tests.support import runner_mode_args
from tests.transform_support import Read


def read_on(mode: str, folder: Path, cfg: PipelineConfig, start: str, end: str) -> Read:
    """`Read(folder, cfg, start, end)` on the runner mode `mode` (a key of RUNNER_MODES); `folder` is made."""
    folder.mkdir(parents=True, exist_ok=True)
    return Read(folder, cfg, start, end, *runner_mode_args(mode))
