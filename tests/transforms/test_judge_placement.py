"""A time filter the API did not apply fails its window: TransformRecords counts what became of each window's
records, JudgePlacement sums them per window and fails the windows (nearly) all of whose records are astray; both
alone, in a TestPipeline on the local runner. The whole run (exit code, watermark held, run report, run record, dead
letters) is in tests/pipeline/test_filter_not_applied.py."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.plan.parents import ParentRef
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask
from beam_api_pipeline.records.judge_placement import FAILED, PLACEMENTS, JudgePlacement
from beam_api_pipeline.records.transform import PLACED, TransformRecords
from tests.support import items_config, t
from tests.transform_support import DAY_1, DAY_2, pipeline, record


def config(folder: Path, **watermark) -> PipelineConfig:
    return PipelineConfig.model_validate(
        items_config("http://127.0.0.1:1", folder, api_config={"watermark": watermark})
    )


def judged(cfg: PipelineConfig, batches: list, results: list[WindowResult] = ()):
    """Runs TransformRecords and JudgePlacement on `batches`; returns what to assert on, from inside the
    pipeline: (placements as (window start, placement), failures as (window start, status, error, type))."""
    p = pipeline()
    records = p | "Batches" >> beam.Create(batches)
    fetched = p | "Results" >> beam.Create([r.to_element() for r in results])
    shaped = records | TransformRecords(cfg, "r1")
    out = (shaped[PLACED], fetched) | JudgePlacement(cfg, RestExtractor)
    placements = out[PLACEMENTS] | "Placements" >> beam.MapTuple(lambda task, placement: (task[1], placement))
    failures = out[FAILED] | "Failures" >> beam.Map(lambda result: (result[0][1], result[1], result[5], result[6]))
    return p, placements, failures


def test_each_windows_records_are_counted_and_a_window_the_api_did_not_filter_fails(tmp_path):
    before = "updated_at='2023-12-31T10:00:00Z' (read as 2023-12-31T10:00:00Z)"
    batches = [  # day 1: the API returned every record it has, over two pages; day 2: one record astray
        (DAY_1.to_element(), [record(1, "2023-12-31T10:00:00Z"), record(2, "2024-01-02T01:00:00Z")]),
        (DAY_1.to_element(), [record(3, "2024-01-05T00:00:00Z"), record(4, "2024-01-03T00:00:00Z")]),
        (DAY_2.to_element(), [record(4, "2024-01-03T00:00:00Z"), record(5, "2024-01-03T01:00:00Z")]),
        (DAY_2.to_element(), [record(6, "2024-01-04T00:00:00Z"), {"updated_at": "2024-01-03T02:00:00Z"}]),
    ]
    p, placements, failures = judged(config(tmp_path), batches)
    with p:
        expected = [
            ("2024-01-02T00:00:00Z", (4, 3, 0, 3, 0, before, None)),
            (
                "2024-01-03T00:00:00Z",
                (4, 1, 1, 1, 0, "updated_at='2024-01-04T00:00:00Z' (read as 2024-01-04T00:00:00Z)", None),
            ),
        ]
        assert_that(placements, equal_to(expected), label="Placements")
        error = (
            "3 of 4 records the API returned are outside the window it was asked for or have no readable "
            "timestamp (more than watermark.max_outside_share 0.5): the API did not filter by "
            f"since=2024-01-02T00:00:00Z, until=2024-01-03T00:00:00Z; for example {before}"
        )
        assert_that(
            failures, equal_to([("2024-01-02T00:00:00Z", "failed", error, "FilterNotApplied")]), label="Failures"
        )


def test_epoch_seconds_read_with_bounds_in_milliseconds_fail_the_window_naming_the_unit(tmp_path):
    """Case A.5: `time_format: epoch_ms` while the API stamps records in epoch seconds: no record is taken for one
    of January 1970 and dropped as outside; each is unreadable, naming the unit, and the window fails."""
    cfg = config(tmp_path, time_format="epoch_ms")
    seconds = [int(t(f"2024-01-02T0{hour}:00:00Z").timestamp()) for hour in range(3)]
    batches = [(DAY_1.to_element(), [{"id": i, "updated_at": s} for i, s in enumerate(seconds, start=1)])]
    p, placements, failures = judged(cfg, batches)
    with p:
        reason = (
            "updated_at: timestamp 1704153600 is epoch seconds, not milliseconds: time_format is epoch_ms "
            "(it would read as 1970-01-20T17:22:33.600000Z)"
        )
        assert_that(placements, equal_to([("2024-01-02T00:00:00Z", (3, 0, 3, 3, 3, None, reason))]), label="Placements")
        error = (
            "3 of 3 records the API returned are outside the window it was asked for or have no readable "
            f"timestamp (more than watermark.max_outside_share 0.5): 3 have no readable timestamp; for example {reason}"
        )
        assert_that(failures, equal_to([("2024-01-02T00:00:00Z", "failed", error, "TimestampUnreadable")]))


def test_unreadable_timestamps_count_against_the_window_and_other_settings_never_fail_it(tmp_path):
    unreadable = [(DAY_1.to_element(), [record(1, "Jan 2"), record(2, "Jan 3"), record(3, "2024-01-02T05:00:00Z")])]
    astray = [(DAY_1.to_element(), [record(1, "2023-06-01T00:00:00Z")])]
    p, placements, failures = judged(config(tmp_path), unreadable)
    with p:
        reason = "updated_at: not an ISO 8601 timestamp: 'Jan 2'"
        assert_that(placements, equal_to([("2024-01-02T00:00:00Z", (3, 0, 2, 2, 2, None, reason))]), label="Placements")
        error = (
            "2 of 3 records the API returned are outside the window it was asked for or have no readable "
            f"timestamp (more than watermark.max_outside_share 0.5): 2 have no readable timestamp; for example {reason}"
        )
        assert_that(failures, equal_to([("2024-01-02T00:00:00Z", "failed", error, "TimestampUnreadable")]), label="F")
    for cfg in (config(tmp_path, filter="client"), config(tmp_path, max_outside_share=1)):
        p, placements, failures = judged(cfg, astray)
        with p:
            assert_that(failures, equal_to([]))


def test_a_window_whose_fetch_failed_fails_once(tmp_path):
    batches = [(DAY_1.to_element(), [record(1, "2023-06-01T00:00:00Z")])]
    fetch_failed = WindowResult(DAY_1, WindowStatus.FAILED, 1, 1, 0, "GET /items answered 500", "ApiError")
    p, _, failures = judged(config(tmp_path), batches, [fetch_failed])
    with p:
        assert_that(failures, equal_to([]))


def test_a_child_task_is_counted_and_never_judged_by_time(tmp_path):
    cfg = PipelineConfig.model_validate(
        items_config(
            "http://127.0.0.1:1",
            tmp_path,
            api_config={"endpoints": {"comments": {"path": "/items/{parent.id}/comments", "parent": "items"}}},
        )
    )
    child = WindowTask("comments", DAY_1.window, ParentRef.of(1, {"id": 1}))
    batches = [(child.to_element(), [record(1, "2023-06-01T00:00:00Z")])]
    p, placements, failures = judged(cfg, batches)
    with p:
        assert_that(placements, equal_to([("2024-01-02T00:00:00Z", (1, 0, 0, 0, 0, None, None))]), label="Placements")
        assert_that(failures, equal_to([]), label="Failures")
