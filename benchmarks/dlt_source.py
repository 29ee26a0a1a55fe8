"""dlt's rest_api source over the same API: daily windows as separate resources' parameters, the page-number
paginator with `total_path`, the filesystem destination writing JSONL. Runs in its own virtualenv."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import dlt
from dlt.sources.rest_api import rest_api_source
from workload_args import workload_parser  # a sibling: the scripts run by path


def main() -> None:
    parser = workload_parser()
    args = parser.parse_args()
    os.environ["DESTINATION__FILESYSTEM__BUCKET_URL"] = "file://" + os.path.abspath(args.out)
    os.environ["NORMALIZE__LOADER_FILE_FORMAT"] = "jsonl"
    os.environ["DATA_WRITER__DISABLE_COMPRESSION"] = "true"
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    resources = []
    for day in range(args.days):
        since, until = start + timedelta(days=day), start + timedelta(days=day + 1)
        resources.append(
            {
                "name": f"items_{day}",
                "table_name": "items",
                "endpoint": {
                    "path": "items",
                    "params": {"since": since.isoformat(), "until": until.isoformat(), "per_page": args.page_size},
                    "data_selector": "items",
                    "paginator": {
                        "type": "page_number",
                        "base_page": 1,
                        "page_param": "page",
                        "total_path": None,
                        "stop_after_empty_page": True,
                    },
                },
            }
        )
    source = rest_api_source({"client": {"base_url": args.url + "/"}, "resources": resources})
    pipeline = dlt.pipeline(
        pipeline_name="bench_dlt", destination="filesystem", dataset_name="bench", pipelines_dir=args.out + "_state"
    )
    pipeline.run(source, loader_file_format="jsonl")


if __name__ == "__main__":
    main()
