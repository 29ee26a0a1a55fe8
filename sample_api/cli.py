"""`python -m sample_api`: serve the sample API until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import threading

from sample_api.data import (
    DEFAULT_DAYS,
    DEFAULT_RECORDS_PER_DAY,
    DEFAULT_START,
    Dataset,
    parse_instant,
)
from sample_api.faults import Faults
from sample_api.server import SampleApi


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sample_api", description="Serve the bundled sample API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--start", type=parse_instant, default=DEFAULT_START, help="first record's time")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--records-per-day", type=int, default=DEFAULT_RECORDS_PER_DAY)
    parser.add_argument("--busy-every", type=int, default=0, help="every Nth day is busy (0: none)")
    parser.add_argument("--busy-factor", type=int, default=1, help="a busy day has this many times the records")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of data requests answering 500")
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second before 429s")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="answer 429 to every Nth request")
    parser.add_argument("--retry-after", default="1", help="the Retry-After header of 429 answers")
    parser.add_argument(
        "--fail-since", action="append", default=[], help="a since value that always answers 500 (repeatable)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the error_rate draws")
    parser.add_argument(
        "--quality-fields", action="store_true", help="records carry the fields data quality checks judge"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; print the listening line once ready."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        faults = Faults(
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            rate_limit=args.rate_limit,
            rate_limit_every=args.rate_limit_every,
            retry_after=args.retry_after,
            fail_since=frozenset(args.fail_since),
            seed=args.seed,
            quality_fields=args.quality_fields,
        )
        dataset = Dataset(args.start, args.days, args.records_per_day, args.busy_every, args.busy_factor)
    except ValueError as error:
        parser.error(str(error))
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with SampleApi(dataset, faults, args.host, args.port).start() as api:
        print(f"sample API listening on {api.url}", flush=True)
        done.wait()
    return 0
