"""Planning a window's pages as a range that can be fetched in parallel (``parallel_config`` known_pages and
calculated_offset), and how many processes share the job's request budget. Pure functions, no Beam.

A window's first page tells the total; its pages 0 .. n-1 then form a `RangeTask` whose positions are page
indices. known_pages asks for page ``start_page + i``; calculated_offset for ``offset = i * page_size``, where
the page size is the one the first page was actually served with: an API that caps its pages serves fewer
records than asked while its total says more, and the range is planned (and asked for) in pages of that size.
Each page is then held to the plan (`range_page_problem`): a page shorter than planned, or announcing another
total, fails the window. A planned last page that comes back full makes the range probe the page after it
(a total can be capped): its records are not fetched as part of the range, they fail the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from beam_api_pipeline.config import ApiConfig
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.pagination.base import effective_page_size, record_count
from beam_api_pipeline.plan.run_plan import TaskElement, WindowTask

KNOWN_PAGES = "known_pages"
CALCULATED_OFFSET = "calculated_offset"
RANGE_TYPES = (KNOWN_PAGES, CALCULATED_OFFSET)


@dataclass(frozen=True)
class RangePaging:
    """How a page index becomes request parameters, and how wide a window's fetch may fan out."""

    kind: str
    page_size: int
    page_param: str
    size_param: str
    start_page: int
    offset_param: str
    limit_param: str
    total_path: str
    require_total: bool
    pages_in_flight: int
    pages_per_part: int | None

    def params(self, index: int) -> dict[str, Any]:
        """The query parameters that ask for page `index` (0-based)."""
        if self.kind == KNOWN_PAGES:
            return {self.page_param: self.start_page + index, self.size_param: self.page_size}
        return {self.offset_param: index * self.page_size, self.limit_param: self.page_size}

    def total(self, body: Any) -> int | None:
        """The record count at `total_path` in an answer's `body`, None when it is not a count."""
        return record_count(get_path(body, self.total_path))


def range_paging(api: ApiConfig, endpoint: str) -> RangePaging | None:
    """The RangePaging of `endpoint` when `parallel_config` fetches pages as ranges, else None. A child endpoint
    is always walked page by page: its tasks, one per parent record, are what runs in parallel.

    Raises ConfigError naming the key when the pagination cannot support it.
    """
    parallel = api.parallel_config
    if parallel is None or parallel.type not in RANGE_TYPES or api.endpoints[endpoint].parent is not None:
        return None
    pagination = api.pagination_for(endpoint)
    where = f"api_config.endpoints.{endpoint}" if api.endpoints[endpoint].pagination else "api_config"
    if not pagination.enabled:
        raise ConfigError(f"{where}.pagination.enabled: must be true when parallel_config.type is {parallel.type}")
    if not pagination.total_path:
        raise ConfigError(f"{where}.pagination.total_path: required when parallel_config.type is {parallel.type}")
    if parallel.type == KNOWN_PAGES:
        page_size = parallel.safe_page_size or pagination.page_size
        in_flight, per_part = parallel.max_concurrent_pages, None
    else:
        page_size = pagination.page_size
        in_flight = parallel.max_concurrent_chunks
        per_part = max(1, parallel.chunk_size // page_size)
    return RangePaging(
        kind=parallel.type,
        page_size=page_size,
        page_param=pagination.page_param,
        size_param=pagination.size_param,
        start_page=pagination.start_page,
        offset_param=pagination.offset_param,
        limit_param=pagination.limit_param,
        total_path=pagination.total_path,
        require_total=parallel.require_total_count,
        pages_in_flight=in_flight,
        pages_per_part=per_part,
    )


@dataclass(frozen=True)
class RangeTask:
    """A window whose first page is fetched, as pages `[0, stop)`: page 0 is not fetched again, its records are
    `first_page` (packed, see `packing`). `parts` is the initial split; `error` is set when the window cannot
    be fetched as a range, `truncated` when `max_pages` cut it short. `page_size` is the size its pages are
    asked for and served with (0: unknown, the range failed), `announced` the total its first page announced."""

    task: WindowTask
    stop: int
    parts: int
    truncated: bool = False
    error: str | None = None
    first_page: bytes = field(default=b"", compare=False)
    page_size: int = 0
    announced: int | None = None

    def to_element(self) -> RangeElement:
        return (
            self.task.to_element(),
            self.stop,
            self.parts,
            self.truncated,
            self.error,
            self.first_page,
            self.page_size,
            self.announced,
        )

    @classmethod
    def from_element(cls, element: RangeElement) -> RangeTask:
        task, *rest = element
        return cls(WindowTask.from_element(task), *rest)


#: A RangeTask between stages: (task, stop, parts, truncated, error, first page's records packed, page size,
#: announced total).
RangeElement = tuple[TaskElement, int, int, bool, str | None, bytes, int, int | None]


def page_count(total: int, page_size: int) -> int:
    """Pages needed for `total` records (at least one: an empty window still answers one page)."""
    return max(1, math.ceil(total / page_size))


def plan_range(
    task: WindowTask,
    total: Any,
    paging: RangePaging,
    max_pages: int,
    workers: int,
    served: int,
) -> RangeTask:
    """The RangeTask of `task` once its first page served `served` records and said `total`, for a runner with
    `workers` workers. Its pages are of the size the first page was served with (`effective_page_size`).

    Known pages are split into at most one part per worker, each at least `pages_in_flight` pages long;
    calculated offsets into chunks of `chunk_size` records.
    """
    if record_count(total) is None:
        return RangeTask(task, 1, 1, error=f"total_path {paging.total_path!r} is {total!r}, not a record count")
    if served == 0 and total > 0:
        error = f"the first page has no records while total_path {paging.total_path!r} announces {total}"
        return RangeTask(task, 1, 1, error=error, announced=total)
    size = effective_page_size(paging.page_size, served, total)
    pages = page_count(total, size)
    stop = min(pages, max_pages)
    if paging.pages_per_part is None:
        parts = min(max(1, workers), stop // paging.pages_in_flight)
    else:  # chunks of `chunk_size` records, in pages of the size served
        per_part = max(1, paging.pages_per_part * paging.page_size // size)
        parts = math.ceil(stop / per_part)
    return RangeTask(task, stop, max(1, parts), truncated=pages > max_pages, page_size=size, announced=total)


def range_page_problem(ranged: RangeTask, index: int, served: int, total: int | None) -> str | None:
    """Why page `index` of `ranged`, which served `served` records and announced `total`, does not match the
    plan (None when it does): another total than the first page's, or fewer records than planned. Either way
    records moved while the window was read (or the API stopped early), and a record would be lost."""
    announced, size = ranged.announced, ranged.page_size
    if announced is None:
        return None
    if total is not None and total != announced:
        return (
            f"the API announced {announced} records on the window's first page and {total} on this one: records "
            "moved while the window was read; sort by a stable key or use cursor pagination"
        )
    expected = max(0, min(size, announced - index * size))
    if served < expected:
        return (
            f"{served} records served where the plan of {announced} records in pages of {size} expects {expected}: "
            "records moved while the window was read, or the API stopped early"
        )
    return None


def past_total_problem(ranged: RangeTask, served: int) -> str | None:
    """Why a range whose planned last page came back full is not complete, when the page after it served
    `served` records (None when it served none): the API holds more records than its total announced."""
    if not served:
        return None
    return (
        f"the planned last page came back full and the page after it has {served} more records: the API holds "
        f"more than the {ranged.announced} records its total announced"
    )


def split_evenly(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    """`[start, stop)` cut into `parts` contiguous, non-empty pieces whose sizes differ by at most one."""
    size = stop - start
    parts = max(1, min(parts, size))
    bounds = [start + size * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i] < bounds[i + 1]]
