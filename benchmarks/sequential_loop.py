"""The baseline: a plain sequential `requests` loop over daily windows and pages, writing JSONL.

Honours 429 Retry-After (sleeps, then asks again) so that it finishes under a rate limit.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import requests
from workload_args import workload_parser  # a sibling: the scripts run by path


def main() -> None:
    parser = workload_parser()
    args = parser.parse_args()
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    session = requests.Session()
    with open(args.out, "w") as out:
        for day in range(args.days):
            since, until = start + timedelta(days=day), start + timedelta(days=day + 1)
            page = 1
            while True:
                params = {
                    "since": since.isoformat(),
                    "until": until.isoformat(),
                    "page": page,
                    "per_page": args.page_size,
                }
                response = session.get(args.url + "/items", params=params, timeout=30)
                if response.status_code == 429:
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                response.raise_for_status()
                items = response.json()["items"]
                for item in items:
                    out.write(json.dumps(item) + "\n")
                if len(items) < args.page_size:
                    break
                page += 1


if __name__ == "__main__":
    main()
