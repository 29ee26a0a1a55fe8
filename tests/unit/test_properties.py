"""Properties that must hold for every input, checked with hypothesis: window planning covers [start, end)
exactly, every pagination strategy's walk visits each page once and stops, and config → YAML → config is
the identity."""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from beam_api_pipeline.config import PaginationConfig, PipelineConfig, dump_pipeline_config, load_pipeline_config
from beam_api_pipeline.core.windowing import EPOCH, plan_windows
from beam_api_pipeline.pagination import Page, PagePosition, create_strategy

# --- plan_windows ------------------------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
seconds = st.integers(min_value=1, max_value=10 * 86400).map(lambda s: timedelta(seconds=s))


@given(
    start=moments,
    windows_long=st.floats(min_value=0, max_value=60),
    size=seconds,
    offset=st.integers(min_value=-86400, max_value=86400).map(lambda s: timedelta(seconds=s)),
    overlap_fraction=st.floats(min_value=0, max_value=0.99),
)
@settings(max_examples=300, deadline=None, database=None)
def test_plan_windows_covers_start_to_end_exactly_with_the_overlap_and_no_gaps(
    start, windows_long, size, offset, overlap_fraction
):
    length = timedelta(seconds=int(size.total_seconds() * windows_long))
    end = start + length
    overlap = timedelta(seconds=int(size.total_seconds() * overlap_fraction))
    windows = plan_windows(start, end, size, offset, overlap)

    if length == timedelta(0):
        assert windows == []
        return
    assert windows[0].start == start
    assert windows[-1].end == end
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start  # no gap, no overlap between what windows own
        assert (before.end - EPOCH - offset) % size == timedelta(0)  # cut on the grid
    for window in windows:
        assert timedelta(0) < window.end - window.start <= size
        assert window.overlap == overlap
        assert window.fetch_start == window.start - overlap
    assert len(windows) <= length // size + 2


@given(start=moments, size=seconds, probe=st.integers(min_value=0, max_value=5 * 10 * 86400 * 10**6))
@settings(max_examples=200, deadline=None, database=None)
def test_every_moment_in_the_range_belongs_to_exactly_one_window(start, size, probe):
    end = start + 5 * size
    moment = start + timedelta(microseconds=probe % (5 * size // timedelta(microseconds=1)))
    windows = plan_windows(start, end, size)
    assert sum(window.contains(moment) for window in windows) == 1


# --- pagination --------------------------------------------------------------------------------------------

BASE = "https://api.example.com/items"


def _answer(strategy: str, records: list[int], first: int, size: int, query: dict[str, str]) -> Page:
    """The page a well-behaved API gives for the records from index `first`, in this strategy's shape."""
    served = records[first : first + size]
    after = first + len(served)
    more = after < len(records)
    next_url = f"{BASE}?{urlencode({**query, 'from': after})}" if more else None
    body: dict[str, Any] = {"data": served, "total": len(records), "has_more": more}
    headers: dict[str, str] = {}
    if strategy == "cursor":
        body["next"] = f"c{after}" if more else None
    elif strategy == "next_url":
        body["next"] = next_url
    elif strategy == "link_header" and more:
        headers["Link"] = f'<{next_url}>; rel="next"'
    elif strategy == "graphql":
        body["pageInfo"] = {"hasNextPage": more, "endCursor": f"c{after}"}
    return Page(body, headers, served, next_url or BASE)


def _first_index(strategy, config: PaginationConfig, position: PagePosition, params: dict[str, Any]) -> int:
    """Which record the request for `position` starts at, read the way the API would read it."""
    if strategy.follows_urls and position.token is not None:
        return int(dict(parse_qsl(urlsplit(position.token).query))["from"])
    if config.strategy == "page_number":
        return (params[config.page_param] - config.start_page) * config.page_size
    if config.strategy == "offset":
        return params[config.offset_param]
    token = params.get(config.cursor_param)
    return 0 if token is None else int(token[1:])


PAGINATIONS = {
    "page_number": {"total_path": "total"},
    "page_number_without_total": {"strategy": "page_number"},
    "offset": {"strategy": "offset", "total_path": "total"},
    "cursor": {"strategy": "cursor", "cursor_path": "next"},
    "cursor_with_has_more": {"strategy": "cursor", "cursor_path": "next", "has_more_path": "has_more"},
    "next_url": {"strategy": "next_url", "next_url_path": "next"},
    "link_header": {"strategy": "link_header"},
    "graphql": {"strategy": "graphql", "page_info_path": "pageInfo"},
}


@given(
    name=st.sampled_from(list(PAGINATIONS)),
    count=st.integers(min_value=0, max_value=300),
    page_size=st.integers(min_value=1, max_value=60),
    start_page=st.integers(min_value=0, max_value=2),
)
@settings(max_examples=400, deadline=None, database=None)
def test_every_strategy_visits_each_page_once_and_stops(name, count, page_size, start_page):
    fields = {"strategy": "page_number", "start_page": start_page, **PAGINATIONS[name], "page_size": page_size}
    config = PaginationConfig.model_validate(fields)
    strategy = create_strategy(config)
    records = list(range(1000, 1000 + count))
    pages_needed = max(1, -(-count // page_size))

    position, starts, seen = strategy.first_position(), [], []
    while position is not None:
        assert len(starts) <= pages_needed, "the walk did not stop"
        assert position.index == len(starts)
        assert position.repeated_page() is None
        params = strategy.request_params(position)
        first = _first_index(strategy, config, position, params)
        starts.append(first)
        query = {k: v for k, v in params.items() if k not in (config.cursor_param, config.offset_param)}
        page = _answer(config.strategy, records, first, page_size, query)
        seen.extend(page.records)
        position = strategy.next_position(position, page)

    assert starts == sorted(set(starts))  # each page once, in order
    assert seen == records  # nothing skipped, nothing twice
    assert len(starts) in (pages_needed, pages_needed + 1)  # at most one empty page to learn it is over


# --- config round trip -------------------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
durations = st.sampled_from(["1h", "6h", "24h", "30m", "2d", "90s"])
references = st.sampled_from(["${env:API_TOKEN}", "${secret:projects/p/secrets/t/versions/1}", "${file:/run/key}"])

AUTHS = {
    "none": lambda ref: {"auth_type": "none"},
    "api_key": lambda ref: {
        "auth_type": "api_key",
        "auth_credentials": {"key": ref, "name": "X-Custom-Key", "location": "header"},
    },
    "bearer": lambda ref: {"auth_type": "bearer", "auth_credentials": {"token": ref}},
    "basic": lambda ref: {"auth_type": "basic", "auth_credentials": {"username": "reader", "password": ref}},
}


@st.composite
def pipeline_configs(draw) -> PipelineConfig:
    pagination = draw(st.sampled_from(list(PAGINATIONS)))
    data = {
        "pipeline_id": draw(names),
        "description": draw(st.text(max_size=40)),
        "enabled": draw(st.booleans()),
        "api_config": {
            "base_url": draw(st.sampled_from(["https://api.example.com", "http://127.0.0.1:8080/v2"])),
            "timeout": draw(st.floats(min_value=0.1, max_value=600, allow_nan=False)),
            "verify_ssl": draw(st.booleans()),
            "endpoints": {
                draw(names): {
                    "path": "/" + draw(names),
                    "records_path": draw(st.sampled_from(["", "items", "data.events.nodes"])),
                    "primary_key": draw(st.sampled_from([None, "id"])),
                    "params": draw(st.dictionaries(names, st.text(max_size=10), max_size=3)),
                }
            },
            "pagination": {
                "strategy": "page_number",
                **PAGINATIONS[pagination],
                "page_size": draw(st.integers(1, 1000)),
            },
            "retry": {"max_attempts": draw(st.integers(1, 10)), "base_delay": draw(st.sampled_from([0, 0.5, 1]))},
            "auth_config": AUTHS[draw(st.sampled_from(list(AUTHS)))](draw(references)),
            "watermark": {
                "enabled": True,
                "timestamp_field": "updated_at",
                "watermark_field": "since",
                "initial_watermark": draw(moments).isoformat(),
                "lookback_window": draw(durations),
                "window": {"window_size": draw(durations)},
            },
        },
    }
    return PipelineConfig.model_validate(data)


@given(config=pipeline_configs())
@settings(max_examples=100, deadline=None, database=None)
def test_config_dumped_to_yaml_loads_back_equal(config):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dumped.yaml"
        path.write_text(dump_pipeline_config(config))
        assert load_pipeline_config(path) == config
