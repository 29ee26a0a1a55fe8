"""The `streaming` section: a job that keeps polling every endpoint instead of one run over a time range."""

from datetime import timedelta

from .base import StrictModel
from .fields import Duration, PositiveDuration


class StreamingConfig(StrictModel):
    """``enabled``: the run polls every ``poll_interval`` until its ``--end_time`` (or until drained or
    cancelled), each poll reading its endpoints up to the poll time minus ``lag``. Runs on Prism or Dataflow
    with Beam's ``--streaming``."""

    enabled: bool = False
    poll_interval: PositiveDuration = timedelta(minutes=5)
    lag: Duration = timedelta(0)
