"""Settings for every test package: hypothesis explores freely on a developer's machine and replays the same
examples under CI (`HYPOTHESIS_PROFILE=ci`, set by `.ci/run`), so that a submission never fails on a draw."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
