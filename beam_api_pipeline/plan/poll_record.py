"""A streaming run's record, poll by poll: what each commit adds to it (`add_poll`) and what the poll planner
reads back (which poll of each endpoint is committed, and where its next poll starts). Plain data, no Beam.

Per endpoint, the record's `endpoint_stats` hold the counts of a batch run summed over the polls, and the keys
below.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from beam_api_pipeline.control.runs import MAX_ERRORS_KEPT, PipelineRun, RunStatus
from beam_api_pipeline.control.watermarks import WindowOutcome, next_watermark
from beam_api_pipeline.plan.run_plan import RESULT_FIGURES

#: The polls committed, and those with a failed window.
POLLS = "polls"
POLLS_FAILED = "polls_failed"
#: 1 while the endpoint's last poll failed (its watermark is held), else 0.
LAST_POLL_FAILED = "last_poll_failed"
#: The end of the endpoint's last committed poll (microseconds since the epoch): the poll's identity.
LAST_POLL_END = "last_poll_end_us"
#: Where the endpoint's next poll reads from (microseconds since the epoch).
RESUME_AT = "resume_at_us"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """`moment` as whole microseconds since the epoch: exact in JSON and in a float."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: float) -> datetime:
    return _EPOCH + timedelta(microseconds=int(micros))


@dataclass(frozen=True)
class EndpointPoll:
    """One endpoint's part of a poll: the end of its windows, and where its next poll reads from (the end of its
    complete windows from the first, or the first window's start when that one failed)."""

    end: datetime
    resume_at: datetime

    @classmethod
    def of(cls, outcomes: list[WindowOutcome]) -> EndpointPoll:
        first = min(outcome.window.start for outcome in outcomes)
        end = max(outcome.window.end for outcome in outcomes)
        return cls(end, next_watermark(outcomes) or first)


def add_poll(before: PipelineRun | None, poll: PipelineRun, endpoints: dict[str, EndpointPoll]) -> PipelineRun:
    """The run record `before` with `poll` (the record of one poll, whose endpoints' parts are `endpoints`) added:
    counts summed, each endpoint's polls and failed polls counted, its last poll and where it resumes noted, the
    newest errors kept. A poll already recorded (a commit the runner retried) leaves `before` as it is. The run is
    failed while the last poll of some endpoint failed."""
    if before is None:  # the run record `prepare_run` saves is gone
        before = replace(poll, records_processed=0, errors=[], windows_done=0, windows_failed=0, endpoint_stats={})
        before = replace(before, dead_letter_rows=0)
    stats = {endpoint: dict(entry) for endpoint, entry in before.endpoint_stats.items()}
    if all(stats.get(e, {}).get(LAST_POLL_END) == to_micros(part.end) for e, part in endpoints.items()):
        return before
    for endpoint, entry in poll.endpoint_stats.items():
        total = stats.setdefault(endpoint, {})
        for key, value in entry.items():
            combine = RESULT_FIGURES[key][1] if key in RESULT_FIGURES else sum
            total[key] = round(combine((total[key], value)) if key in total else value, 3)
        failed = entry["windows_failed"] > 0
        total[POLLS] = total.get(POLLS, 0) + 1
        total[POLLS_FAILED] = total.get(POLLS_FAILED, 0) + failed
        total[LAST_POLL_FAILED] = int(failed)
    for endpoint, part in endpoints.items():
        stats[endpoint].update({LAST_POLL_END: to_micros(part.end), RESUME_AT: to_micros(part.resume_at)})
    failing = any(entry.get(LAST_POLL_FAILED) for entry in stats.values())
    return replace(
        before,
        status=RunStatus.FAILED if failing else RunStatus.SUCCEEDED,
        end_time=poll.end_time,
        records_processed=before.records_processed + poll.records_processed,
        errors=[*before.errors, *poll.errors][-MAX_ERRORS_KEPT:],
        windows_done=before.windows_done + poll.windows_done,
        windows_failed=before.windows_failed + poll.windows_failed,
        endpoint_stats=stats,
        dead_letter_rows=before.dead_letter_rows + poll.dead_letter_rows,
    )


def committed_polls(run: PipelineRun | None) -> dict[str, EndpointPoll]:
    """Per endpoint of `run` with a committed poll, its part of the last one."""
    stats = run.endpoint_stats if run else {}
    return {
        endpoint: EndpointPoll(from_micros(entry[LAST_POLL_END]), from_micros(entry[RESUME_AT]))
        for endpoint, entry in stats.items()
        if LAST_POLL_END in entry
    }


def next_poll_start(
    stored: datetime | None,
    resume_at: datetime | None,
    lookback: timedelta,
    last_start: datetime | None,
    first_start: datetime | None,
) -> datetime | None:
    """Where an endpoint's next poll reads from. Its first poll in the run (no `last_start`): `first_start`
    (`--start_time`), else the `stored` watermark minus `lookback` (None: there is none, the caller uses
    `initial_watermark`). Later polls: where the run's last poll got to (`resume_at`) minus `lookback`, never
    before that poll's own start (whose first window failed). Not the stored watermark: a backfill from
    `--start_time` reads behind it, and a window of it that failed must be read again though the stored
    watermark, never moving back, stays ahead."""
    if last_start is None:
        if first_start is not None:
            return first_start
        return None if stored is None else stored - lookback
    if resume_at is None:
        return last_start
    return max(resume_at - lookback, last_start)
