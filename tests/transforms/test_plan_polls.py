"""_PlanPollFn (PlanPolls' stateful DoFn, one key) alone, in a TestPipeline on the local runner: a tick becomes
the poll's windows, from the initial watermark (no run record, no watermark stored) to the tick's time minus
`lag`; a tick while that poll is not committed yet plans nothing and counts `polls_skipped`. PlanPolls' ticks
(PeriodicImpulse) and whole streaming runs are in tests/streaming (Prism)."""

from __future__ import annotations

from datetime import timedelta

import apache_beam as beam
from apache_beam.testing.util import assert_that

from beam_api_pipeline.plan.polls import _PlanPollFn
from beam_api_pipeline.plan.run_plan import PollSchedule
from tests.support import t
from tests.transform_support import Kept, config, pipeline, run, task


def test_a_tick_plans_its_poll_s_windows_and_a_tick_before_its_commit_is_skipped(tmp_path):
    cfg = config(tmp_path, api_config={"watermark": {"window": {"window_size": "6h"}}})
    schedule = PollSchedule(first_poll=t("2024-01-02T12:00"), interval=timedelta(hours=1), lag=timedelta(hours=1))
    first, second = t("2024-01-02T12:00").timestamp(), t("2024-01-02T13:00").timestamp()
    p = pipeline()
    tasks = p | beam.Create([("polls", first), ("polls", second)]) | beam.ParDo(_PlanPollFn(cfg, "r1", schedule))
    assert_that(tasks, Kept(tmp_path / "tasks.json"))
    counters = run(p)
    assert (counters["polls"], counters["polls_skipped"]) == (1, 1)
    # the tick that came first (a runner may hand them over in either order) planned up to its time - lag
    planned = sorted(tuple(element[:4]) for element in Kept(tmp_path / "tasks.json").elements())
    first_end, second_end = "2024-01-02T11:00", "2024-01-02T12:00"
    assert planned in (
        [task("2024-01-02", "2024-01-02T06:00").to_element()[:4], task("2024-01-02T06:00", end).to_element()[:4]]
        for end in (first_end, second_end)
    )
