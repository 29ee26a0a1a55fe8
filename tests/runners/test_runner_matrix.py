"""The runner matrix: every pagination style the issue names, with and without `primary_key`, on every runner
mode the README offers, at the benchmark's scale (60,000 records, 30 windows), with the element checks on. The
default (worker threads), threaded and Prism cells ran three times each while their faults were intermittent;
RUNNER_MATRIX_REPEATS=3 runs them so again."""

from __future__ import annotations

import os

import pytest

from tests.runners.runs import END, START, run_pipeline
from tests.support import RUNNER_MODES, items_config, merged, runner_mode_args, t

GRAPHQL_QUERY = """
query Events($since: DateTime, $until: DateTime, $first: Int, $after: String) {
  events(since: $since, until: $until, first: $first, after: $after) {
    nodes { id updated_at title value }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PAGINATIONS = {
    "page_number+pk": {"api_config": {"pagination": {"page_size": 100}}},
    "cursor+pk": {
        "api_config": {
            "endpoints": {"items": {"path": "/events", "records_path": "data", "primary_key": "id"}},
            "pagination": {"strategy": "cursor", "page_size": 100, "cursor_path": "meta.next_cursor"},
        }
    },
    "known_pages+pk": {
        "api_config": {
            "pagination": {"page_size": 100},
            "parallel_config": {"type": "known_pages", "max_concurrent_pages": 16},
        }
    },
    "calculated_offset": {
        "api_config": {
            "endpoints": {"items": {"path": "/records", "records_path": "records", "primary_key": None}},
            "pagination": {"strategy": "offset", "page_size": 100, "total_path": "total"},
            "parallel_config": {"type": "calculated_offset", "max_concurrent_chunks": 4, "chunk_size": 500},
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
                    "variables": {"first": 100},
                    "records_path": "data.events.nodes",
                    "primary_key": None,
                }
            },
            "pagination": {"strategy": "graphql", "page_info_path": "data.events.pageInfo", "cursor_param": "after"},
        },
    },
}

#: The modes whose faults were intermittent (default worker threads, threads, Prism): their cells run
#: RUNNER_MATRIX_REPEATS times (3 before issue 28: 55 cells, about 9 CPU minutes; make test now runs each cell
#: once, 25 cells; `RUNNER_MATRIX_REPEATS=3 pytest tests/runners/test_runner_matrix.py` runs them as before).
REPEATED_MODES = ("default", "threads", "prism")
REPEATS = int(os.environ.get("RUNNER_MATRIX_REPEATS", "1"))
CELLS = [
    pytest.param(pagination, mode, repeat, id=f"{pagination}-{mode}-{repeat}")
    for pagination in PAGINATIONS
    for mode in RUNNER_MODES
    for repeat in range(1, (REPEATS if mode in REPEATED_MODES else 1) + 1)
]


@pytest.mark.parametrize(("pagination", "mode", "repeat"), CELLS)
def test_every_record_exactly_once_and_the_watermark_at_the_end(big_api, tmp_path, pagination, mode, repeat):
    big_api.set_faults(latency_ms=5)
    config = items_config(
        big_api.url,
        tmp_path,
        api_config={"max_concurrent_requests": 16, "watermark": {"initial_watermark": START}},
        output=[{"type": "local", "config": {"path": str(tmp_path / "out"), "batch_size": 5000}}],
    )
    config = merged(config, PAGINATIONS[pagination])
    outcome = run_pipeline(config, tmp_path, "--end_time", END, "--check_elements", *runner_mode_args(mode))

    assert outcome.exit_code == 0, outcome.dead_letters[:3]
    assert sorted(outcome.ids) == big_api.dataset.ids_between(t(START[:10]), t(END[:10]))
    assert len(outcome.ids) == len(set(outcome.ids)) == 60_000
    assert outcome.watermarks == {"items": t(END[:10])}
    assert (outcome.run.status, outcome.run.records_processed) == ("succeeded", outcome.lines_on_disk)
    assert outcome.dead_letters == []
