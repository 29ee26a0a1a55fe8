"""W6: the rate-limit modes against the sample API holding 40 requests a second, with `rate_limit: 40` divided
as a 100-worker Dataflow job would divide it (`--max_num_workers=100`), on 4 worker processes: the rate each
mode achieves, its share of 429s and its busiest second; `adaptive` when the API's limit is halved half way
through a 60 s run; `shared` when its Redis stops mid-run.

    python -m benchmarks.rate_limit_modes

Runs `make test`'s scenarios (tests/rate_limits) at the same scale and prints their figures.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sample_api.rate_stats import seconds_to_follow
from tests.rate_limits.limited_runs import (
    API_LIMIT,
    AS_IF_100_WORKERS,
    PROCESSES,
    LimitedRun,
    after_first_request,
    run_limited,
)
from tests.redis_server import RedisServer

DAYS, RECORDS_PER_DAY = 16, 600  # 960 pages of 10 records: 24 s at 40 requests a second


def _exact(run: LimitedRun) -> str:
    written = sorted(run.outcome.ids) == sorted(run.expected_ids)
    return f"{len(run.outcome.ids)} records{'' if written else ' (NOT the expected ones)'}"


def _line(name: str, run: LimitedRun) -> str:
    stats = run.stats()
    return (
        f"  {name:<9} {stats.achieved:>6.1f}/s  {stats.achieved / API_LIMIT:>5.0%} of {API_LIMIT}  "
        f"{stats.throttled_share:>6.1%} 429s  busiest second {stats.busiest_second:>3}  {_exact(run)}"
    )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-rate-"))
    print(f"W6 rate_limit_mode: API limit {API_LIMIT}/s, rate_limit {API_LIMIT}, 4 processes, --max_num_workers=100")
    share = run_limited(work / "share", 2, 20, {"rate_limit": API_LIMIT}, [*PROCESSES, *AS_IF_100_WORKERS])
    print(_line("share", share))
    adaptive = {"rate_limit": API_LIMIT, "rate_limit_mode": "adaptive"}
    print(
        _line(
            "adaptive", run_limited(work / "adaptive", DAYS, RECORDS_PER_DAY, adaptive, PROCESSES + AS_IF_100_WORKERS)
        )
    )
    redis = RedisServer(work)
    try:
        shared = {"rate_limit": API_LIMIT, "rate_limit_mode": "shared", "rate_limit_store": redis.url}
        run = run_limited(work / "shared", DAYS, RECORDS_PER_DAY, shared, [*PROCESSES, *AS_IF_100_WORKERS])
        print(_line("shared", run))
        outage = run_limited(
            work / "outage",
            DAYS,
            300,
            shared,
            PROCESSES,
            during=lambda api: after_first_request(api, 3, redis.stop),
        )
    finally:
        redis.stop()
    after = outage.stats(outage.lowered_at + 1)
    print(
        f"  shared, Redis stopped 3 s in: exit {outage.outcome.exit_code}, {_exact(outage)}, "
        f"{outage.outcome.report['counters']['rate_limit_store_outages']} process outages, then "
        f"{after.achieved:.1f}/s on the local shares ({after.throttled_share:.1%} 429s, busiest second "
        f"{after.busiest_second})"
    )

    def halve(api):
        return after_first_request(api, 30, lambda: api.set_faults(rate_limit=API_LIMIT / 2))

    halved = run_limited(work / "halved", 30, RECORDS_PER_DAY, adaptive, [*PROCESSES, *AS_IF_100_WORKERS], during=halve)
    before = halved.stats(halved.first_answer, halved.lowered_at)
    followed = seconds_to_follow(halved.answers, halved.lowered_at, 0.05)
    later = halved.stats(halved.lowered_at + (followed or 0))
    print(
        f"  adaptive, limit halved to {API_LIMIT // 2}/s after 30 s of {halved.stats().seconds:.0f} s: before "
        f"{before.achieved:.1f}/s ({before.throttled_share:.1%} 429s); followed in {followed} s; after that "
        f"{later.achieved:.1f}/s ({later.achieved / (API_LIMIT / 2):.0%} of {API_LIMIT // 2}), "
        f"{later.throttled_share:.1%} 429s; {_exact(halved)}"
    )


if __name__ == "__main__":
    main()
