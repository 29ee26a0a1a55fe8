"""`rate_limit_mode` against an API holding 40 requests a second, with `rate_limit: 40` divided as a job of 100
workers would divide it (`--max_num_workers=100`), on 4 worker processes and on Prism: `share` keeps to its
tiny share and says so; `adaptive` and `shared` use the budget; `adaptive` follows the API's limit when it is
halved; `shared` never passes 40 a second by more than its burst, and outlives its Redis."""

from __future__ import annotations

import pytest

from beam_api_pipeline.client.redis_bucket import BURST_SECONDS
from sample_api.rate_stats import seconds_to_follow
from tests.rate_limits.limited_runs import (
    API_LIMIT,
    AS_IF_100_WORKERS,
    PROCESSES,
    after_first_request,
    prism,
    run_limited,
)
from tests.redis_server import RedisServer

RUNNERS = {"processes": lambda: PROCESSES, "prism": prism}
#: When the API's limit is halved, after its first answer.
HALVED_AFTER_SECONDS = 15


def assert_exact(run) -> None:
    assert run.outcome.exit_code == 0
    assert sorted(run.outcome.ids) == sorted(run.expected_ids)
    assert run.outcome.dead_letters == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_share_keeps_to_its_share_and_says_how_small_it_is(tmp_path, runner, capfd):
    run = run_limited(tmp_path, 2, 20, {"rate_limit": 40}, [*RUNNERS[runner](), *AS_IF_100_WORKERS])

    assert_exact(run)
    stats = run.stats()
    processes = 4 if runner == "processes" else 1
    assert stats.throttled == 0
    assert stats.busiest_second <= processes * (0.4 + 1)  # each its share, plus a burst of one
    assert run.outcome.report["rate"]["mode"] == "share"
    assert run.outcome.report["rate"]["achieved"] <= processes * 0.4 * 1.5
    err = capfd.readouterr().err
    assert (
        "rate_limit_mode share: each of 100 processes (max_num_workers) may send 0.4 requests/s, 1 % of "
        "rate_limit 40; give the number of workers the job needs (max_workers), or set rate_limit_mode: adaptive "
        "(the API's own limit is the budget) or shared (a Redis bucket for the whole job)"
    ) in err


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("mode", ["adaptive", "shared"])
def test_adaptive_and_shared_use_the_budget_of_the_whole_job(tmp_path, runner, mode, request):
    api_config = {"rate_limit": 40, "rate_limit_mode": mode}
    if mode == "shared":
        api_config["rate_limit_store"] = request.getfixturevalue("redis_server").url
    run = run_limited(tmp_path, 16, 600, api_config, [*RUNNERS[runner](), *AS_IF_100_WORKERS])

    assert_exact(run)
    stats = run.stats()
    print(f"{mode} on {runner}: {stats}, achieved {stats.achieved:.1f}/s, 429s {stats.throttled_share:.1%}")
    assert stats.achieved >= 0.8 * API_LIMIT
    assert run.outcome.report["rate"] == {
        "mode": mode,
        "rate_limit": 40,
        "achieved": pytest.approx(stats.achieved, rel=0.2),
    }
    if mode == "shared":
        assert stats.busiest_second <= API_LIMIT * (1 + BURST_SECONDS) + 1
        assert stats.throttled_share <= 0.01


def test_adaptive_follows_the_api_down_when_its_limit_is_halved(tmp_path):
    def halve(api):
        return after_first_request(api, HALVED_AFTER_SECONDS, lambda: api.set_faults(rate_limit=API_LIMIT / 2))

    api_config = {"rate_limit": 40, "rate_limit_mode": "adaptive"}
    # 15 windows of 61 pages: at most 40 a second for 15 s leaves at least 315 pages for after, at most 20 a
    # second: the run lasts at least 30 s, both halves long enough to measure
    run = run_limited(tmp_path, 15, 600, api_config, [*PROCESSES, *AS_IF_100_WORKERS], during=halve)

    assert_exact(run)
    before = run.stats(run.first_answer, run.lowered_at)
    followed = seconds_to_follow(run.answers, run.lowered_at, 0.05)
    after = run.stats(run.lowered_at + followed)
    print(f"before {before}, followed in {followed} s, after {after} ({after.throttled_share:.1%} 429s)")
    assert run.stats().seconds >= 2 * HALVED_AFTER_SECONDS
    assert before.achieved >= 0.8 * API_LIMIT
    assert followed <= 5.0
    assert after.throttled_share <= 0.05
    assert after.achieved >= 0.8 * API_LIMIT / 2


def test_shared_goes_on_at_its_local_share_when_redis_stops(tmp_path, redis_server, capfd):
    api_config = {"rate_limit": 40, "rate_limit_mode": "shared", "rate_limit_store": redis_server.url}
    run = run_limited(
        tmp_path, 10, 300, api_config, PROCESSES, during=lambda api: after_first_request(api, 3, redis_server.stop)
    )

    assert_exact(run)
    assert run.outcome.report["counters"]["rate_limit_store_outages"] >= 1
    after = run.stats(run.lowered_at + 1)
    assert after.answers > 100  # most of the run went on without Redis
    assert after.busiest_second <= API_LIMIT + 4  # four processes, each its share of 10 a second and a burst
    err = capfd.readouterr().err
    assert "rate_limit_store failed (ConnectionError); this process keeps to its share, 10 requests/s" in err


def test_shared_reads_its_password_from_a_reference_and_never_shows_it(tmp_path, monkeypatch, capfd):
    server = RedisServer(tmp_path, password="redis-password-value")
    try:
        monkeypatch.setenv("RATE_STORE_PASSWORD", "redis-password-value")
        api_config = {
            "rate_limit": 40,
            "rate_limit_mode": "shared",
            "rate_limit_store": server.url,
            "rate_limit_store_password": "${env:RATE_STORE_PASSWORD}",
        }
        run = run_limited(tmp_path / "right", 2, 100, api_config, PROCESSES)
        monkeypatch.setenv("RATE_STORE_PASSWORD", "a-wrong-password-value")
        wrong = run_limited(tmp_path / "wrong", 2, 100, api_config, PROCESSES)
    finally:
        server.stop()

    assert_exact(run)
    assert run.outcome.report["counters"]["rate_limit_store_outages"] == 0  # the bucket in Redis paced it
    assert_exact(wrong)
    assert wrong.outcome.report["counters"]["rate_limit_store_outages"] >= 1  # once per process that sent
    err = capfd.readouterr().err
    assert "rate_limit_store failed (AuthenticationError); this process keeps to its share, 10 requests/s" in err
    written = err + "".join(path.read_text() for path in tmp_path.rglob("*") if path.is_file() and path.suffix != ".db")
    assert "redis-password-value" not in written and "a-wrong-password-value" not in written
