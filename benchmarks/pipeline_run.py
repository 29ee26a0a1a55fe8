"""This pipeline over the benchmark's API: writes a config for it and becomes `python -m beam_api_pipeline run`
(exec: the process the benchmark measures is the command a user runs, start-up and exit included)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from workload_args import workload_parser  # a sibling: the scripts run by path


def main() -> None:
    parser = workload_parser()
    parser.add_argument("--parallel", default="known_pages", choices=["known_pages", "time_window"])
    parser.add_argument("--max-concurrent", type=int, default=16)
    parser.add_argument("--rate-limit", type=float, default=None)
    parser.add_argument("--primary-key", default=None, help="the endpoint's primary_key (de-duplication on)")
    parser.add_argument("--children", action="store_true", help="and each item's children (a dependent endpoint)")
    parser.add_argument("--child-page-size", type=int, default=10)
    parser.add_argument("--quality", default=None, help="the endpoint's quality checks, as JSON")
    args, beam_args = parser.parse_known_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parallel = (
        {"type": "known_pages", "max_concurrent_pages": args.max_concurrent}
        if args.parallel == "known_pages"
        else {"type": "time_window", "max_concurrent_windows": args.max_concurrent}
    )
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    config = {
        "pipeline_id": "bench",
        "extractor_class": "rest",
        "api_config": {
            "base_url": args.url,
            "endpoints": {"items": {"path": "/items", "records_path": "items", "primary_key": args.primary_key}},
            "pagination": {"page_size": args.page_size, "total_path": "total", "max_pages": 100000},
            "retry": {"max_attempts": 8, "base_delay": 0.2, "max_delay": 5},
            "max_concurrent_requests": args.max_concurrent,
            "rate_limit": args.rate_limit,
            "parallel_config": parallel,
            "watermark": {
                "enabled": True,
                "timestamp_field": "updated_at",
                "watermark_field": "since",
                "window_end_field": "until",
                "initial_watermark": args.start,
                "window": {"window_size": "24h"},
            },
        },
        "output": [{"type": "local", "config": {"path": str(out / "rows"), "batch_size": 100000}}],
        "dead_letter": {"path": str(out / "dead_letter")},
        "watermark_store": {"type": "local", "path": str(out / "control.db")},
    }
    if args.quality:
        config["api_config"]["endpoints"]["items"]["quality"] = json.loads(args.quality)
    if args.children:
        config["api_config"]["endpoints"]["children"] = {
            "parent": "items",
            "path": "/items/{parent.id}/children",
            "records_path": "children",
            "include_from_parent": ["id"],
            "pagination": {"page_size": args.child_page_size, "total_path": "total"},
        }
    path = out / "pipeline.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(config))))
    end = (start + timedelta(days=args.days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = ["run", "--config", str(path), "--start_time", args.start, "--end_time", end, *beam_args]
    os.execv(sys.executable, [sys.executable, "-m", "beam_api_pipeline", *command])


if __name__ == "__main__":
    main()
