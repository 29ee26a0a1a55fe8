"""The baseline: a plain sequential `requests` loop over daily windows and pages, writing JSONL.

Honours 429 Retry-After (sleeps, then asks again) so that it finishes under a rate limit.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import requests
from workload_args import workload_parser  # a sibling: the scripts run by path


def get_json(session: requests.Session, url: str, params: dict) -> object:
    """The JSON answer of `url`, after waiting out any 429."""
    while True:
        response = session.get(url, params=params, timeout=30)
        if response.status_code != 429:
            response.raise_for_status()
            return response.json()
        time.sleep(float(response.headers.get("Retry-After", "1")))


def write_children(session: requests.Session, url: str, item_id: int, page_size: int, out) -> None:
    """Every page of item `item_id`'s children, one after another."""
    page = 1
    while True:
        children = get_json(session, f"{url}/items/{item_id}/children", {"page": page, "per_page": page_size})
        for child in children["children"]:
            out.write(json.dumps({**child, "_parent_id": item_id}) + "\n")
        if page * page_size >= children["total"]:
            return
        page += 1


def main() -> None:
    parser = workload_parser()
    parser.add_argument("--children", action="store_true", help="and each item's children, after its page")
    parser.add_argument("--child-page-size", type=int, default=10)
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
                items = get_json(session, args.url + "/items", params)["items"]
                for item in items:
                    out.write(json.dumps(item) + "\n")
                    if args.children:
                        write_children(session, args.url, item["id"], args.child_page_size, out)
                if len(items) < args.page_size:
                    break
                page += 1


if __name__ == "__main__":
    main()
