"""The small transforms of the graph alone, in a TestPipeline on the local runner (in memory, so that the DoFns
run in this process): ReportProgress (what the local progress display counts), RecordLatencyFn (each batch's
oldest time out, each row's latency counted) and `beam_windows.combine_all` / `count_all` (one total in the global
window, even of nothing; one per window of a windowed collection)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.beam_windows import combine_all, count_all
from beam_api_pipeline.plan.parents import ParentRef
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask
from beam_api_pipeline.records.latency import RecordLatencyFn
from beam_api_pipeline.run import progress
from beam_api_pipeline.run.report_progress import ReportProgress
from tests.transform_support import DAY_1, DAY_2, pipeline, run

IN_MEMORY = ["--direct_num_workers=1", "--direct_running_mode=in_memory"]


@pytest.fixture
def shown():
    """The progress display of this process, on a stream that is no terminal."""
    display = progress.start(2, io.StringIO())
    yield display
    progress.stop()


def test_report_progress_counts_records_of_every_part_and_windows_of_planned_windows_only(shown):
    child = WindowTask("children", DAY_1.window, ParentRef.for_record({"id": 7}, "id", ["id"]))
    results = [
        WindowResult(DAY_1, WindowStatus.DONE, 2, 20, first_page=0, end_page=2),  # a part: the window goes on
        WindowResult(DAY_1, WindowStatus.DONE, 1, 8, first_page=2, end_page=3, window_pages=3),  # its last part
        WindowResult(DAY_2, WindowStatus.FAILED, 1, 10, error="GET answered 500"),
        WindowResult(child, WindowStatus.FAILED, 1, 5, error="GET answered 404"),  # a child task: records only
    ]
    p = pipeline(*IN_MEMORY)
    _ = p | beam.Create([r.to_element() for r in results]) | ReportProgress()
    run(p)
    assert (shown.windows, shown.failed, shown.records) == (2, 1, 43)
    assert shown.line() == "windows 2/2, 1 failed, 43 records"


def test_record_latency_gives_each_batch_s_oldest_time_and_counts_each_row(tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    stamps = [now - timedelta(seconds=s) for s in (30, 10, 20)]
    batches = [
        [{"updated_at": f"{stamps[0]:%Y-%m-%dT%H:%M:%SZ}"}, {"updated_at": f"{stamps[1]:%Y-%m-%dT%H:%M:%SZ}"}],
        [{"updated_at": f"{stamps[2]:%Y-%m-%dT%H:%M:%SZ}"}, {"updated_at": None}],
        [{"title": "no time"}],
    ]
    p = pipeline()
    oldest = p | beam.Create(batches) | beam.ParDo(RecordLatencyFn("updated_at", "iso8601"))
    assert_that(oldest, equal_to([int(stamps[0].timestamp() * 1000), int(stamps[2].timestamp() * 1000)]))
    result = p.run()
    result.wait_until_finish()
    query = MetricsFilter().with_namespace(metrics.NAMESPACE).with_name("record_latency_ms")
    [latency] = result.metrics().query(query)["distributions"]
    assert latency.committed.count == 3  # the rows with a time
    assert latency.committed.min >= 10_000 and latency.committed.max < 30_000 + 60_000


def test_record_latency_without_a_column_gives_nothing():
    with pipeline() as p:
        out = p | beam.Create([[{"updated_at": "2024-01-02T00:00:00Z"}]]) | beam.ParDo(RecordLatencyFn(None, "iso8601"))
        assert_that(out, equal_to([]))


def test_combine_all_gives_one_total_in_the_global_window_even_of_nothing():
    with pipeline() as p:
        some = p | "Some" >> beam.Create([3, 4, 5])
        none = p | "None" >> beam.Create([])
        assert_that(combine_all(some, "SumSome", sum), equal_to([12]), label="Some12")
        assert_that(combine_all(none, "SumNone", sum), equal_to([0]), label="None0")
        assert_that(count_all(some, "CountSome"), equal_to([3]), label="Count3")
        assert_that(count_all(none, "CountNone"), equal_to([0]), label="Count0")


def test_count_all_counts_each_window_of_a_windowed_collection():
    start = DAY_1.window.start.timestamp()  # a multiple of 20 s: 1 falls in one window, 2 and 3 in the next
    with pipeline() as p:
        stamped = (
            p
            | beam.Create([1, 2, 3])
            | beam.Map(lambda n: beam.window.TimestampedValue(n, start + n * 10))
            | beam.WindowInto(beam.window.FixedWindows(20))
        )
        assert_that(count_all(stamped, "PerWindow"), equal_to([1, 2]))
