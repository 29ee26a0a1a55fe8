"""W4: one window through the fetch DoFn (its process(), as a runner calls it), printing the DoFn's peak memory:
the process's peak RSS minus its RSS after setup(). Records are counted and dropped, as a fused writer would."""

from __future__ import annotations

import argparse
import json
import resource
import sys
from datetime import UTC, datetime, timedelta

from apache_beam.io.restriction_trackers import OffsetRange

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.runner_profile import RunnerProfile
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.range_fetch import FetchRangeFn
from beam_api_pipeline.fetch.range_planning import PlanRangesFn
from beam_api_pipeline.fetch.range_restriction import PageRangeProvider
from beam_api_pipeline.fetch.range_rules import RangeTask
from beam_api_pipeline.plan.run_plan import WindowTask


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00")).astimezone(UTC)
    config = PipelineConfig.model_validate(
        {
            "pipeline_id": "bench_memory",
            "api_config": {
                "base_url": args.url,
                "endpoints": {"items": {"path": "/items", "records_path": "items"}},
                "pagination": {"page_size": args.page_size, "total_path": "total", "max_pages": 100000},
                "max_concurrent_requests": 16,
                "parallel_config": {"type": "known_pages", "max_concurrent_pages": 16},
                "watermark": {
                    "enabled": True,
                    "timestamp_field": "updated_at",
                    "watermark_field": "since",
                    "window_end_field": "until",
                    "initial_watermark": args.start,
                },
            },
            "output": [{"type": "local", "config": {"path": "/tmp/unused"}}],
        }
    )
    profile = RunnerProfile()
    planner, fetcher = PlanRangesFn(config, RestExtractor, profile), FetchRangeFn(config, RestExtractor, profile)
    planner.setup()
    fetcher.setup()
    baseline = rss_mb()
    planner.start_bundle()
    task = WindowTask("items", Window(start, start + timedelta(days=1))).to_element()
    planned = [*planner.process(task), *(wv.value for wv in planner.finish_bundle())]
    element = planned[0]
    tracker = PageRangeProvider().create_tracker(OffsetRange(0, RangeTask.from_element(element).stop))
    records = 0
    for output in fetcher.process(element, tracker=tracker):
        if isinstance(output, tuple):  # a (task, rows) batch
            records += len(output[1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"records": records, "baseline_mb": baseline, "peak_mb": peak, "dofn_mb": peak - baseline}, sys.stdout)


if __name__ == "__main__":
    main()
