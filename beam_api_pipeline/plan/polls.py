"""Polls: the source of a streaming run.

    PeriodicImpulse (every poll_interval, until --end_time) ─▶ PlanPoll (one key: polls go one at a time)
        ─▶ each root endpoint's windows [watermark - lookback_window, poll time - lag), in a Beam window of the
           poll's own

A poll is planned only once the run's previous poll is committed (the commit notes each endpoint's last poll in
the run record, `poll_record`): a tick that finds a poll still in flight is skipped, and the next poll reads up
to its own time. So each poll starts where the last one got to: a failed window is read again by the next poll,
and no record is read twice but those of `lookback_window` and of the windows after a failed one in the same
poll.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.coders import StrUtf8Coder
from apache_beam.transforms import window
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.control.watermarks import WatermarkHandler
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.windowing import format_utc
from beam_api_pipeline.plan.parents import EndpointTree
from beam_api_pipeline.plan.poll_record import EndpointPoll, committed_polls, next_poll_start
from beam_api_pipeline.plan.run_plan import PollSchedule, WindowTask

logger = logging.getLogger(__name__)


#: _PlanPollFn's state, as JSON text: `run_id`, and `endpoints`: per root endpoint, the `end` and `start` of its
#: last poll.
_POLLS_STATE = beam.DoFn.StateParam(ReadModifyWriteStateSpec("polls", StrUtf8Coder()))


class _PlanPollFn(beam.DoFn):
    """Turns a tick into the poll's WindowTasks (as elements), reading the store; one key, so one poll at a
    time. Its state: the run it plans for, and per root endpoint where its last poll started and ended. A job
    updated in place carries the state into a run of another id, whose record has none of these polls: the state
    starts again (a poll in flight during the update may then be read twice)."""

    def __init__(self, config: PipelineConfig, run_id: str, schedule: PollSchedule):
        self._config = config
        self._run_id = run_id
        self._schedule = schedule
        api = config.api_config
        self._bounds = WatermarkHandler(api.watermark, None, config.pipeline_id, api.window_grid()[0])

    def process(self, keyed_tick, state=_POLLS_STATE) -> Iterator[tuple]:
        _, tick = keyed_tick
        poll_time = self._poll_time(float(tick))
        stored_state = json.loads(state.read() or "{}")
        polls = stored_state.get("endpoints", {}) if stored_state.get("run_id") == self._run_id else {}
        with opened_store(self._config.watermark_store) as store:
            committed = committed_polls(store.get_run(self._run_id))
            in_flight = [e for e, entry in polls.items() if not _committed(committed.get(e), entry)]
            if in_flight:
                metrics.POLLS_SKIPPED.inc()
                logger.info("poll at %s skipped: the last poll of %s is not committed yet", poll_time, in_flight)
                return
            watermarks = {e: store.get_watermark(self._config.pipeline_id, e) for e in self._roots()}
        tasks = []
        for endpoint, stored in watermarks.items():
            resume_at = committed[endpoint].resume_at if endpoint in committed else None
            tasks.extend(self._tasks(endpoint, stored, resume_at, poll_time, polls))
        state.write(json.dumps({"run_id": self._run_id, "endpoints": polls}))
        if tasks:
            metrics.POLLS.inc()
            logger.info("poll at %s: %d windows", format_utc(poll_time), len(tasks))
        yield from (task.to_element() for task in tasks)

    def _poll_time(self, tick: float) -> datetime:
        """The schedule's time of a tick (PeriodicImpulse's float seconds, made exact to the microsecond), never
        later than now: a poll never reads past the present, whatever schedule an updated job's ticks follow."""
        schedule = self._schedule
        polls = round((tick - schedule.first_poll.timestamp()) / schedule.interval.total_seconds())
        return min(schedule.first_poll + polls * schedule.interval, datetime.now(UTC))

    def _roots(self) -> list[str]:
        return EndpointTree.of(self._config.api_config).roots

    def _tasks(
        self, endpoint: str, stored: datetime | None, resume_at: datetime | None, poll_time: datetime, polls: dict
    ) -> list[WindowTask]:
        """The endpoint's windows of this poll, its entry in `polls` updated when there are any. Its bounds fall
        on the grid of the API's time format (a tick's fraction of it is left to the next poll)."""
        watermark = self._config.api_config.watermark
        entry = polls.get(endpoint)
        last_start = None if entry is None else datetime.fromisoformat(entry["start"])
        start = next_poll_start(stored, resume_at, watermark.lookback_window, last_start, self._schedule.start_time)
        start, end = self._bounds.on_grid(
            watermark.initial_watermark if start is None else start, poll_time - self._schedule.lag
        )
        windows = watermark.window.plan(start, end)
        if not windows:
            return []
        polls[endpoint] = {"start": start.isoformat(), "end": end.isoformat()}
        return [WindowTask(endpoint, w) for w in windows]


def _committed(last: EndpointPoll | None, issued: dict[str, str]) -> bool:
    """Whether the endpoint's last committed poll is the last one issued (its `end`)."""
    return last is not None and last.end == datetime.fromisoformat(issued["end"])


class PlanPolls(beam.PTransform):
    """PBegin in; the WindowTasks (as `run_plan.TaskElement`s) of every poll out, each poll in a Beam window of
    its own (FixedWindows of the poll interval: the watermark closes a poll's window once its rows are through),
    spread over the workers."""

    def __init__(self, config: PipelineConfig, run_id: str, schedule: PollSchedule):
        super().__init__()
        self._config = config
        self._run_id = run_id
        self._schedule = schedule

    def expand(self, pbegin: pvalue.PBegin) -> pvalue.PCollection:
        schedule = self._schedule
        interval = schedule.interval.total_seconds()
        stop = MAX_TIMESTAMP if schedule.until is None else Timestamp.of(schedule.until.timestamp())
        return (
            pbegin
            | "Ticks" >> PeriodicImpulse(Timestamp.of(schedule.first_poll.timestamp()), stop, interval)
            | "OneKey" >> beam.Map(lambda tick: ("polls", tick))
            | "PlanPoll" >> beam.ParDo(_PlanPollFn(self._config, self._run_id, schedule))
            | "PollWindows" >> beam.WindowInto(window.FixedWindows(interval))
            | "SpreadWindows" >> beam.Reshuffle()
        )
