"""Child routes: the records that belong to one record of the data set, as dependent endpoints read them.

- `GET /items/{id}/children?page=&per_page=` page numbers with `total`: item `id` has `child_count(id)`
  children (5, 15 or 25: one to three pages of 10), each stamped with its item's `updated_at`;
  an id the data set does not have is a 404, as real APIs answer for a parent that is gone;
- `GET /children/{id}/notes` the two notes of a child (one page), for chains of dependent endpoints.
"""

from __future__ import annotations

import re
from typing import Any

from sample_api.data import Dataset, Record
from sample_api.faults import Faults
from sample_api.protocol import DEFAULT_PAGE_SIZE, Reply, Request, size_param

CHILDREN_PATH = re.compile(r"/items/(?P<item_id>\d+)/children")
NOTES_PATH = re.compile(r"/children/(?P<child_id>\d+)/notes")


def child_count(item_id: int) -> int:
    """How many children item `item_id` has: 5, 15 or 25."""
    return 5 + (item_id % 3) * 10


def child_ids(item_id: int) -> list[int]:
    """The ids of item `item_id`'s children, in the order they are served."""
    return [item_id * 100 + number for number in range(1, child_count(item_id) + 1)]


def child_json(parent: Record, child_id: int) -> dict[str, Any]:
    return {
        "id": child_id,
        "number": child_id % 100,  # 1, 2, ... within its item, like the line numbers of an order
        "item_id": parent.id,
        "updated_at": parent.updated_at_text,
        "text": f"Child {child_id % 100} of item {parent.id}",
    }


def children(dataset: Dataset, _faults: Faults, request: Request, item_id: int) -> Reply:
    """One page of an item's children."""
    parent = dataset.record(item_id)
    if parent is None:
        return Reply(404, {"error": f"no item {item_id}"})
    page = size_param(request, "page", 1, maximum=10**9)
    per_page = size_param(request, "per_page", DEFAULT_PAGE_SIZE)
    ids = child_ids(item_id)
    served = ids[(page - 1) * per_page : page * per_page]
    body = {"children": [child_json(parent, child_id) for child_id in served], "total": len(ids), "page": page}
    return Reply(200, body)


def notes(_dataset: Dataset, _faults: Faults, _request: Request, child_id: int) -> Reply:
    """A child's two notes, ids `child_id * 10 + 1` and `+ 2`."""
    return Reply(200, {"notes": [{"id": child_id * 10 + n, "child_id": child_id} for n in (1, 2)]})
