"""`plan`'s arithmetic without an API: which windows are sampled, a window's records and pages from its first
page, totals with their range, the time bounds, the Dataflow cost lines, the pace of the sample, and the estimate
a run record keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from beam_api_pipeline.client.rate_headers import RateLimitHint
from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.backfill import EndpointPlan, cpu_per_record, job_dataflow, job_time, mode_warnings
from beam_api_pipeline.plan.dataflow_cost import api_rate, dataflow_cost, load_prices
from beam_api_pipeline.plan.dataflow_prices import PRICES
from beam_api_pipeline.plan.estimate import (
    Estimate,
    WindowSample,
    estimate_stats,
    load_estimate,
    pages_for,
    per_parent,
    rate_seconds,
    sample_indices,
    scaled,
    time_bounds,
    windows_done,
)
from beam_api_pipeline.run.backfill_plan import Pace
from beam_api_pipeline.run.report import estimate_lines
from sample_api.data import Dataset, day_counts
from tests.support import items_config, write_yaml

DAY = Window(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))


def test_sample_indices_take_every_window_when_few_else_spread_from_first_to_last():
    assert sample_indices(3, 20) == [0, 1, 2]
    assert sample_indices(730, 5) == [0, 182, 364, 547, 729]
    assert sample_indices(10, 1) == [0]
    assert sample_indices(0, 5) == []


def test_windows_done_are_those_ending_at_or_before_the_stored_watermark():
    windows = [Window(DAY.start + timedelta(days=d), DAY.end + timedelta(days=d)) for d in range(5)]
    assert windows_done(windows, None) == 0
    assert windows_done(windows, datetime(2024, 1, 3, tzinfo=UTC)) == 2
    assert windows_done(windows, datetime(2024, 1, 3, 12, tzinfo=UTC)) == 2


def test_a_window_s_records_come_from_the_total_else_the_last_page_else_the_time_its_first_page_covers():
    assert WindowSample(DAY, 20, 48, False, 20, 0.01).records() == (48.0, "total")
    assert WindowSample(DAY, 7, None, True, 20, 0.01).records() == (7.0, "exact")
    assert WindowSample(DAY, 20, None, False, 20, 0.01, covered=0.25).records() == (80.0, "extrapolated")
    assert WindowSample(DAY, 20, None, False, 20, 0.01).records() == (20.0, "at least")


def test_pages_end_on_the_api_signal_or_one_page_after_a_full_last_page():
    assert pages_for(48, 20, end_signal=True) == 3
    assert pages_for(40, 20, end_signal=True) == 2
    assert pages_for(0, 20, end_signal=True) == 1
    assert pages_for(40, 20, end_signal=False) == 3
    assert pages_for(48, 20, end_signal=False) == 3


def test_a_total_is_the_mean_times_the_windows_with_a_95_percent_range_exact_when_all_are_sampled():
    assert scaled([48, 48, 48], 730) == Estimate(35040, 35040, 35040)
    assert scaled([10, 20, 30], 3) == Estimate(60, 60, 60)
    spread = scaled([10, 20, 30, 40], 100)
    assert spread.value == 2500
    # t(3) = 3.18, sd 12.91, sqrt(4) = 2, correction sqrt(96 / 99)
    assert spread.low == pytest.approx(2500 - 3.18 * 12.9099 / 2 * 0.98473 * 100, rel=1e-4)
    assert spread.high == pytest.approx(2500 + 3.18 * 12.9099 / 2 * 0.98473 * 100, rel=1e-4)
    assert scaled([], 10) == Estimate(0, 0, 0)


def test_time_is_the_longest_bound_plus_the_runner_start():
    bounds = time_bounds(
        requests=2190, records=35040, rate_limit=20, max_concurrent=10, latency=0.05, cpu_per_record=1e-5
    )
    assert bounds.rate_limit == pytest.approx((2190 - 20) / 20)
    assert bounds.concurrency == pytest.approx(2190 * 0.05 / 10)
    assert bounds.cpu == pytest.approx(0.3504)
    assert bounds.bound_by == "rate_limit"
    assert bounds.seconds == pytest.approx(108.5 + 3.0)
    slow = time_bounds(1000, 1000, None, 2, 0.5, 0.0)
    assert (slow.rate_limit, slow.bound_by, slow.seconds) == (None, "concurrency", 253.0)
    assert rate_seconds(10, 20) == 0.0


def test_dataflow_cost_lines_from_the_api_budget_and_the_price_table():
    assert api_rate(20, 10, 0.05) == 20
    assert api_rate(None, 10, 0.5) == 20
    assert api_rate(100, 10, 0.5) == 20
    cost = dataflow_cost(requests=72000, api_rps=20, cpu_per_request=0.15, prices=PRICES)
    # 20 requests/s x 0.15 CPU s = 3 vCPUs: 3 n1-standard-1 workers, for 1 h of requests + 3 min of boot
    assert cost.workers == 3
    assert cost.job_hours == pytest.approx(1.05)
    assert cost.vcpu_hours == pytest.approx(3.15)
    assert cost.memory_gb_hours == pytest.approx(3 * 3.75 * 1.05)
    assert cost.disk_gb_hours == pytest.approx(3 * 250 * 1.05)
    assert cost.workers_cost == pytest.approx(3.15 * 0.056 + 11.8125 * 0.003557 + 787.5 * 0.000054)
    assert cost.launch_cost == pytest.approx(4 / 60 * (0.056 + 3.75 * 0.003557))
    assert cost.lines()[1] == "    workers: 3 saturate the API's 20 requests/s at 150 ms CPU a request"
    assert (cost.needed, cost.bound_by) == (3, "api")
    assert dataflow_cost(100, 20, 0.0, PRICES, machine="n2-standard-4").workers == 1


def test_fewer_workers_than_the_api_needs_make_the_job_cpu_bound():
    # 20 requests/s x 0.15 CPU s need 3 workers; 2 do 2 / 0.15 = 13.3 requests/s: 72,000 requests take 1.5 h
    cost = dataflow_cost(requests=72000, api_rps=20, cpu_per_request=0.15, prices=PRICES, max_workers=2)
    assert (cost.workers, cost.needed, cost.bound_by) == (2, 3, "cpu")
    assert cost.job_hours == pytest.approx(1.5 + 0.05)
    assert cost.vcpu_hours == pytest.approx(2 * 1.55)  # = the requests' 3 CPU hours, and the boot
    assert cost.lines()[1] == (
        "    workers: 2 (max_workers; 3 would saturate the API's 20 requests/s at 150 ms CPU a request): bound by CPU"
    )


def test_a_large_backfill_s_workers_and_hours_come_from_its_cpu_per_record(tmp_path):
    config = _config(tmp_path, rate_limit=1000, max_concurrent_requests=20)
    windows = [Window(DAY.start + timedelta(days=d), DAY.end + timedelta(days=d)) for d in range(730)]
    records, requests = Estimate(3_504_000, 3_504_000, 3_504_000), Estimate(35_040, 35_040, 35_040)
    # 100 records a request, 300 us of CPU each (the fetch's share and the record stages): 30 ms a request
    items = EndpointPlan("items", None, windows, 0, 20, records, requests, 0.01, 0.0003, 100)
    # 1,000 requests/s (20 in flight of 10 ms keep up) x 0.03 CPU s = 30 vCPUs: 30 n1-standard-1 workers, or 8
    # n2-standard-4; 35,040 requests take 35.04 s of the API's time
    cost = job_dataflow(config, [items], PRICES, "us-central1", "n1-standard-1")
    assert (cost.workers, cost.needed, cost.bound_by, cost.api_rps) == (30, 30, "api", 1000)
    assert cost.cpu_per_request == pytest.approx(0.03)
    assert cost.job_hours == pytest.approx(35.04 / 3600 + 0.05)
    assert cost.vcpu_hours == pytest.approx(30 * (35.04 / 3600 + 0.05))
    assert job_dataflow(config, [items], PRICES, "us-central1", "n2-standard-4").workers == 8
    # with 10 workers at most, the job's 1,051.2 CPU seconds take 105.12 s on them: bound by CPU
    capped = job_dataflow(config, [items], PRICES, "us-central1", "n1-standard-1", max_workers=10)
    assert (capped.workers, capped.bound_by) == (10, "cpu")
    assert capped.job_hours == pytest.approx(105.12 / 3600 + 0.05)
    assert capped.vcpu_hours == pytest.approx(10 * (105.12 / 3600 + 0.05))
    # locally, on one core: 3,504,000 x 300 us = 1,051 s of CPU, longer than the rate limit's 34 s
    bounds = job_time(config, [items])
    assert (bounds.cpu, bounds.bound_by) == (pytest.approx(1051.2), "cpu")


def test_a_record_s_cpu_is_its_share_of_its_page_s_fetch_and_the_record_stages():
    samples = [WindowSample(DAY, 20, 48, False, 20, 0.01, cpu_seconds=0.004) for _ in range(3)]
    assert cpu_per_record(samples, 0.0002) == pytest.approx(0.012 / 60 + 0.0002)
    assert cpu_per_record([WindowSample(DAY, 0, 0, True, 20, 0.01, cpu_seconds=0.004)], 0.0002) == 0.0002


def test_children_scale_with_their_sampled_parents_mean_and_both_ranges():
    # 3 parent records held 15, 15 and 25 children; the parents are 1,500 (1,400-1,600)
    children = per_parent([15, 15, 25], Estimate(1500, 1400, 1600))
    sampled = scaled([15, 15, 25], 1500)  # t(2) = 4.30, sd 5.77, sqrt(3), corrected for 1,500 parents
    assert children.value == pytest.approx(27500)
    assert children.low == pytest.approx(sampled.low / 1500 * 1400)
    assert children.high == pytest.approx(sampled.high / 1500 * 1600)
    assert per_parent([15, 15, 15], Estimate(1440, 1440, 1440)) == Estimate(21600, 21600, 21600)
    assert per_parent([], Estimate(10, 10, 10)) == Estimate(0, 0, 0)
    assert per_parent([4, 6], Estimate(0, 0, 0)) == Estimate(0, 0, 0)


def test_dataflow_cost_refuses_an_unknown_region_or_machine_and_reads_a_price_file(tmp_path):
    with pytest.raises(ConfigError, match=r"--region: no prices for 'mars-north1' \(known: us-central1\)"):
        dataflow_cost(1, 1, 0, PRICES, region="mars-north1")
    with pytest.raises(ConfigError, match=r"--machine_type: unknown 'z9'"):
        dataflow_cost(1, 1, 0, PRICES, machine="z9")
    own = tmp_path / "prices.json"
    own.write_text(json.dumps({**PRICES, "regions": {"europe-west1": {**PRICES["regions"]["us-central1"]}}}))
    assert dataflow_cost(3600, 1, 0, load_prices(str(own)), region="europe-west1").region == "europe-west1"
    with pytest.raises(ConfigError, match="--prices: cannot read"):
        load_prices(str(tmp_path / "missing.json"))


def test_the_sample_is_paced_one_interval_apart_on_its_clock():
    now, sleeps = [100.0], []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        now[0] += seconds

    pace = Pace(20, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        pace.wait()
        now[0] += 0.01  # the request
    assert sleeps == [0.04, 0.04, 0.04]
    unpaced = Pace(None, clock=lambda: now[0], sleep=sleep)
    unpaced.wait()
    unpaced.wait()
    assert len(sleeps) == 3


def test_busy_days_of_the_sample_api():
    assert day_counts(8, 48, busy_every=7, busy_factor=6) == [48] * 6 + [288, 48]
    assert day_counts(3, 10) == [10, 10, 10]


def test_a_plan_s_estimate_is_kept_per_endpoint_and_printed_beside_the_run(tmp_path):
    plan = {
        "time": {"seconds": 6.7},
        "endpoints": {
            "items": {
                "records": {"value": 1488.0, "low": 1400.0, "high": 1600.0},
                "requests": {"value": 93.0, "low": 90.0, "high": 99.0},
            }
        },
    }
    stats = estimate_stats(plan)
    assert stats == {
        "items": {
            "estimated_records": 1488.0,
            "estimated_records_low": 1400.0,
            "estimated_records_high": 1600.0,
            "estimated_requests": 93.0,
            "estimated_requests_low": 90.0,
            "estimated_requests_high": 99.0,
            "estimated_seconds": 6.7,
        }
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert load_estimate(str(path)) == stats
    path.write_text("{}")
    with pytest.raises(ConfigError) as refused:
        load_estimate(str(path))
    assert str(refused.value) == f"--plan_json: {path} is not a plan written by `plan --report_json`: KeyError('time')"
    endpoints = {"items": {"records": 1500, "pages": 90, "retries": 3, **stats["items"]}, "other": {"records": 1}}
    assert estimate_lines(endpoints, 6.4) == [
        "  plan vs run, items: records 1,488 planned, 1,500 real (-0.8%); requests 93 planned, 93 real (+0.0%); "
        "time 6.7 s planned, 6.4 s real (+4.7%)"
    ]


def _config(tmp_path, **api_config):
    """The sample items config with `api_config` merged in (no request is sent)."""
    return load_pipeline_config(
        write_yaml(tmp_path / "p.yaml", items_config("http://127.0.0.1:1", tmp_path, api_config=api_config))
    )


def test_a_rate_limit_the_run_cannot_use_is_warned(tmp_path):
    config = _config(tmp_path, rate_limit=100)
    # 100 requests/s x 0.2 CPU s = 20 vCPUs: 20 n1-standard-1 workers, 20 processes each sending 5 requests/s
    dataflow = dataflow_cost(10_000, 100, 0.2, PRICES)
    assert mode_warnings(config, dataflow, PRICES, None, 10_000) == [
        "rate_limit_mode share: each of 20 processes (on Dataflow, one per vCPU) may send 5 requests/s, 5 % of "
        "rate_limit 100; give the number of workers the job needs (max_workers), or set rate_limit_mode: adaptive "
        "(the API's own limit is the budget) or shared (a Redis bucket for the whole job)"
    ]
    hourly = RateLimitHint(remaining=4000, reset_after=1800, limit=5000)  # GitHub's 5,000 an hour
    assert mode_warnings(config, None, PRICES, hourly, 10_000) == [
        "the API's rate-limit headers leave 4000 requests for the next 1800 s (limit 5000); the run needs 10,000: "
        "it pauses each time the budget is spent"
    ]
    assert mode_warnings(config, None, PRICES, hourly, 3_000) == []
    assert mode_warnings(_config(tmp_path), None, PRICES, None, 10) == [
        "no rate_limit: the run's pace is max_concurrent_requests over the API's latency"
    ]


def test_the_sample_api_s_busy_days_hold_more_records_evenly_spread_with_ids_in_order():
    dataset = Dataset(days=8, records_per_day=4, busy_every=7, busy_factor=3)
    busy = DAY.start + timedelta(days=6)
    assert len(dataset) == 7 * 4 + 12
    assert [(r.id, r.updated_at) for r in dataset.window(busy, busy + timedelta(days=1))] == [
        (25 + i, busy + timedelta(hours=2 * i)) for i in range(12)
    ]
    assert dataset.ids_between() == list(range(1, 41))


def test_a_client_side_filter_is_warned_as_not_estimated_per_window(tmp_path):
    config = _config(tmp_path, rate_limit=10, watermark={"filter": "client"})
    assert mode_warnings(config, None, PRICES, None, 10) == [
        "watermark.filter is client: a run reads each window newest first from the API's latest record down to the "
        "window; the estimate counts each window's own records only (a total announced is the API's, not the "
        "window's)"
    ]
