"""A window is complete only when the API says so, and data that moves under a walk is not lost (issue 27, cases
B.6 to B.9 and C.10), in whole runs on every runner mode: page caps, empty pages that say more, null / 204
bodies, records that move during a walk, each ending in every record once, the watermark at the end and (for a
capped page size) the report's page size. Every pagination style against every fault, and the failures with
their exact messages, are tested on ReadFromApi alone (tests/transforms/test_walk_signals_read.py); the styles
(`STYLES`, `style_config`) are defined here for both."""

from __future__ import annotations

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from sample_api import Faults
from tests.pipeline.conftest import run_report
from tests.support import RUNNER_MODES, items_config, read_jsonl, runner_mode_args, stored_watermark, t, write_yaml

END = "2024-01-05T00:00:00Z"
#: The ids of the run's three daily windows, 2024-01-02 to 2024-01-05 (48 records a day).
ALL_IDS = list(range(49, 193))
GRAPHQL_QUERY = """
query Events($since: DateTime, $until: DateTime, $first: Int, $after: String) {
  events(since: $since, until: $until, first: $first, after: $after) {
    nodes { id updated_at title }
    totalCount
    pageInfo { hasNextPage endCursor }
  }
}
"""
RANGE = {"max_concurrent_requests": 4}

#: Every pagination style, asking for pages of 10 (GraphQL: `first: 10`).
STYLES = {
    "page_number": {"api_config": {}},
    "page_number_no_total": {"api_config": {"pagination": {"total_path": None}}},
    "offset": {
        "api_config": {
            "endpoints": {"items": {"path": "/records", "records_path": "records"}},
            "pagination": {"strategy": "offset", "total_path": "total"},
        }
    },
    "cursor": {
        "api_config": {
            "endpoints": {"items": {"path": "/events", "records_path": "data"}},
            "pagination": {
                "strategy": "cursor",
                "cursor_path": "meta.next_cursor",
                "has_more_path": "has_more",
                "total_path": None,
            },
        }
    },
    "next_url": {
        "api_config": {
            "endpoints": {"items": {"path": "/feed", "records_path": "entries"}},
            "pagination": {"strategy": "next_url", "next_url_path": "links.next", "total_path": None},
        }
    },
    "link_header": {
        "api_config": {
            "endpoints": {
                "items": {
                    "path": "/repos/acme/widgets/issues",
                    "params": {"state": "all", "sort": "updated", "direction": "asc"},
                    "records_path": "",
                    "primary_key": "number",
                }
            },
            "pagination": {"strategy": "link_header", "total_path": None},
            "watermark": {"window_end_field": None},
        }
    },
    "graphql": {
        "extractor_class": "graphql",
        "api_config": {
            "endpoints": {
                "items": {
                    "path": "/graphql",
                    "method": "POST",
                    "query": GRAPHQL_QUERY,
                    "variables": {"first": 10},
                    "records_path": "data.events.nodes",
                }
            },
            "pagination": {
                "strategy": "graphql",
                "page_info_path": "data.events.pageInfo",
                "cursor_param": "after",
                "total_path": "data.events.totalCount",
            },
        },
    },
    "known_pages": {"api_config": {**RANGE, "parallel_config": {"type": "known_pages", "max_concurrent_pages": 2}}},
    "calculated_offset": {
        "api_config": {
            **RANGE,
            "endpoints": {"items": {"path": "/records", "records_path": "records"}},
            "pagination": {"strategy": "offset", "total_path": "total"},
            "parallel_config": {"type": "calculated_offset", "max_concurrent_chunks": 2, "chunk_size": 20},
        }
    },
}
SHIFTING = ["page_number", "offset", "known_pages", "calculated_offset"]
KEYSET = ["cursor", "next_url", "graphql"]


def style_config(style: str, primary_key: bool) -> dict:
    """The config changes of `style`, without `primary_key` when `primary_key` is false."""
    changes = STYLES[style]
    api = changes["api_config"]
    endpoint = {"path": "/items", "records_path": "items", **api.get("endpoints", {}).get("items", {})}
    if not primary_key:
        endpoint["primary_key"] = None
    return {**changes, "api_config": {**api, "endpoints": {"items": endpoint}}}


def run(path, *args: str) -> int:
    return main(["run", "--config", str(path), "--end_time", END, *args])


def written_ids(tmp_path, style: str) -> list[int]:
    key = "number" if style == "link_header" else "id"
    return sorted(row[key] for row in read_jsonl(tmp_path / "out"))


@pytest.mark.parametrize("mode", list(RUNNER_MODES))
@pytest.mark.parametrize("style", ["offset", "known_pages"])
def test_a_capped_page_size_delivers_every_record_on_every_runner_mode(style, mode, sample_api, write_config, tmp_path):
    """B.6 on each runner mode: the walk goes on past short pages; the range is planned in the served size."""
    sample_api.set_faults(page_cap=4)
    path, config = write_config(**style_config(style, primary_key=True))
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", END, *runner_mode_args(mode))
    assert code == 0

    assert written_ids(tmp_path, style) == ALL_IDS
    assert stored_watermark(config) == t(END)
    stats = report["run"]["endpoint_stats"]["items"]
    assert (stats["announced_total"], stats["page_size"]) == (len(ALL_IDS), 4)  # in the report: the cap it met
    # 48 records a day in pages of 4: 12 pages, and no more (the last page is full and the total reached: one
    # more page for a walk, as a capped total could hide more; a range knows its plan ends there and asks too).
    assert sample_api.stats()["by_path"] == {STYLES_PATH[style]: 3 * 13}


STYLES_PATH = {"page_number": "/items", "offset": "/records", "known_pages": "/items"}


WINDOWS = [
    ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"),
    ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"),
    ("2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"),
]


@pytest.mark.parametrize("mode", list(RUNNER_MODES))
def test_empty_pages_bodies_without_records_and_moving_records_end_exact_on_every_runner_mode(
    mode, sample_api, write_config, tmp_path
):
    """B.8, B.9 and C.10 on each runner mode: a cursor walk whose pages are capped at 4, each preceded by an empty
    page that says more, with a null body and a 204 on the way; then a page-number walk whose record 50 moves
    after page 1 is served, read again. Each ends with every record once and the watermark at the end."""
    kinds = ("null_200", "no_content_204")
    sample_api.set_faults(page_cap=4, empty_pages=True, answer_faults=kinds, answer_fault_after=1, answer_fault_every=7)
    path, config = write_config(**style_config("cursor", primary_key=True))
    assert run(path, *runner_mode_args(mode)) == 0
    assert (written_ids(tmp_path, "cursor"), stored_watermark(config)) == (ALL_IDS, t(END))
    assert read_jsonl(tmp_path / "dead_letter") == []
    assert set(sample_api.injected()) == set(kinds)

    moved = tmp_path / "moved"
    moved.mkdir()
    sample_api.faults = Faults(moving_records=frozenset({50}))
    path = write_yaml(moved / "pipeline.yaml", items_config(sample_api.url, moved, **style_config("page_number", True)))
    config = load_pipeline_config(path)
    assert run(path, *runner_mode_args(mode)) == 0
    assert (sorted(row["id"] for row in read_jsonl(moved / "out")), stored_watermark(config)) == (ALL_IDS, t(END))
