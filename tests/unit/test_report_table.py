"""The run report's endpoint table: its columns, and those shown only when an endpoint's stats have them."""

from __future__ import annotations

from beam_api_pipeline.control.runs import PipelineRun, RunStatus
from beam_api_pipeline.plan.run_plan import RunPlan
from beam_api_pipeline.run.report import RateUse, RunReport, format_report
from tests.support import t

COUNTERS = {"requests": 9, "files_written": 1, "split_parts": 0, "deferred_remainders": 0, "rate_limited_429": 3}
STATS = {"windows": 2, "windows_done": 1, "windows_failed": 1, "pages": 9, "records": 60, "written": 20}
STATS |= {"outside": 38, "invalid": 2, "retries": 4, "rate_limited_429": 3, "errors": 1, "seconds": 0.5}


def table(stats: dict) -> list[str]:
    plan = RunPlan("r1", "p", t("2024-01-05"), [], {"items": t("2024-01-02")})
    run = PipelineRun("r1", "p", RunStatus.FAILED, t("2024-01-05"), t("2024-01-05T00:00:01"), endpoint_stats=stats)
    report = RunReport(plan, run, COUNTERS, {"items": t("2024-01-03")}, RateUse("share", None, None))
    return format_report(report).splitlines()[1:4]


def test_the_table_shows_fetched_written_outside_invalid_and_429s_apart_from_retries():
    assert table({"items": STATS}) == [
        "  endpoint  windows  done  failed  pages  fetched  written  outside  invalid  retries  429s  errors  fetch s"
        "  watermark",
        "  items     2        1     1       9      60       20       38       2        4        3     1       0.50   "
        "  2024-01-02T00:00:00Z -> 2024-01-03T00:00:00Z",
        "  total: 0 windows done, 0 failed, 9 requests (3 answered 429), 0 records written, 1 files",
    ]


def test_announced_totals_and_the_page_size_served_are_shown_when_known():
    rows = table({"items": STATS | {"announced_total": 60, "page_size": 100}})
    assert rows[0].endswith("fetch s  announced  page size  watermark")
    assert rows[1].endswith("0.50     60         100        2024-01-02T00:00:00Z -> 2024-01-03T00:00:00Z")


def test_an_endpoint_whose_api_announces_no_total_shows_a_dash_there():
    plan = RunPlan("r1", "p", t("2024-01-05"), [], {"items": t("2024-01-02"), "events": t("2024-01-02")})
    stats = {"items": STATS | {"announced_total": 60, "page_size": 100}, "events": STATS | {"page_size": 20}}
    run = PipelineRun("r1", "p", RunStatus.FAILED, t("2024-01-05"), t("2024-01-05T00:00:01"), endpoint_stats=stats)
    report = RunReport(plan, run, COUNTERS, {}, RateUse("share", None, None))
    rows = format_report(report).splitlines()[2:4]
    assert rows[0].split()[-5:-3] == ["60", "100"]
    assert rows[1].split()[-5:-3] == ["-", "20"]
