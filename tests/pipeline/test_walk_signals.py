"""A window is complete only when the API says so, and data that moves under a walk is not lost (issue 27, cases
B.6 to B.9 and C.10), for every pagination style, against the sample API's faults: page caps, capped totals, empty
pages that say more, null / 204 / error bodies, records that move during a walk. Each run ends in the exact ids
and watermark, or in an explicit failed window with the watermark held and the exact message."""

from __future__ import annotations

import pytest
from apache_beam.pvalue import TaggedOutput
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.core.runner_profile import RunnerProfile
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.walk_fetch import WalkPagesFn
from beam_api_pipeline.fetch.walk_restriction import PageWalk, PageWalkProvider, PageWalkTracker
from beam_api_pipeline.pagination.base import WalkTally
from beam_api_pipeline.plan.run_plan import WindowResult, WindowStatus, WindowTask, window_complete
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


def window_failures(tmp_path) -> list[tuple[str, str, str]]:
    """The failed windows in the dead letter: (window start, status, error)."""
    rows = [row for row in read_jsonl(tmp_path / "dead_letter") if row["kind"] == "window"]
    return sorted((row["window_start"], row["status"], row["error"]) for row in rows)


@pytest.mark.parametrize("primary_key", [True, False], ids=["primary_key", "no_key"])
@pytest.mark.parametrize("style", list(STYLES))
def test_a_capped_page_size_and_bodies_without_records_still_deliver_every_record(
    style, primary_key, sample_api, write_config, tmp_path
):
    """B.6, B.7 (a short page that says more), B.8 (empty pages that say more) and B.9 (null, 204, error bodies
    on some pages, retried): the API serves 4 records where 10 are asked."""
    # A GraphQL `errors` array fails its window at once (the API's messages are the error): not among these.
    kinds = ("null_200", "no_content_204", "empty_error") + (() if style == "graphql" else ("null_errors",))
    sample_api.set_faults(
        page_cap=4,
        page_cap_echo=style != "page_number",
        empty_pages=True,
        answer_faults=kinds,
        answer_fault_after=1,
        answer_fault_every=5,
        answer_fault_count=len(kinds),
    )
    path, config = write_config(**style_config(style, primary_key))
    assert run(path) == 0

    assert written_ids(tmp_path, style) == ALL_IDS  # each once
    assert stored_watermark(config) == t(END)
    assert read_jsonl(tmp_path / "dead_letter") == []
    assert sample_api.injected() == dict.fromkeys(kinds, 1)


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


@pytest.mark.parametrize("primary_key", [True, False], ids=["primary_key", "no_key"])
@pytest.mark.parametrize("style", SHIFTING)
def test_a_capped_total_is_walked_past_or_fails_a_planned_range(style, primary_key, sample_api, write_config, tmp_path):
    """B.7: the API announces at most 20 records (Elasticsearch caps `hits.total`) where each window holds 48."""
    sample_api.set_faults(capped_total=20)
    path, config = write_config(**style_config(style, primary_key))
    code = run(path)

    if style in ("page_number", "offset"):  # a full page at the total is followed, and the walk goes on
        assert (code, written_ids(tmp_path, style), stored_watermark(config)) == (0, ALL_IDS, t(END))
        return
    assert code == 1
    assert stored_watermark(config) is None  # every window failed: the watermark is held
    assert window_failures(tmp_path) == [
        (
            start,
            "failed",
            f"items window {start}/{end} page 2: the planned last page came back full and the page after it has "
            "10 more records: the API holds more than the 20 records its total announced",
        )
        for start, end in WINDOWS
    ]
    # The first page of each window was written; nothing past the page that failed.
    assert written_ids(tmp_path, style) == [*range(49, 59), *range(97, 107), *range(145, 155)]


WINDOWS = [
    ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"),
    ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"),
    ("2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z"),
]


@pytest.mark.parametrize("primary_key", [True, False], ids=["primary_key", "no_key"])
@pytest.mark.parametrize("style", [*SHIFTING, *KEYSET])
def test_a_record_that_moves_during_the_walk_is_read_again_or_fails_the_window(
    style, primary_key, sample_api, write_config, tmp_path
):
    """C.10: a record of window 01-02 is updated out of the window once its page 1 is served. Offsets and page
    numbers: record 50 (on page 1) moves, every later record shifts back one place, and record 59 would never
    be read. Keyset walks: record 70 (on page 3) moves to its new time, and nothing shifts."""
    sample_api.set_faults(moving_records={70 if style in KEYSET else 50})
    path, config = write_config(**style_config(style, primary_key))
    code = run(path)

    if style in KEYSET:  # the cursor names the last record read: nothing is lost, record 70 is in a later window
        moved = [record for record in ALL_IDS if record != 70]
        assert (code, written_ids(tmp_path, style), stored_watermark(config)) == (0, moved, t(END))
        assert read_jsonl(tmp_path / "dead_letter") == []
        return
    if style in ("page_number", "offset") and primary_key:  # read again: the second read is consistent
        # Record 50 was read on page 1 with its time in the window, once (the reread no longer finds it there).
        assert (code, written_ids(tmp_path, style), stored_watermark(config)) == (0, ALL_IDS, t(END))
        assert read_jsonl(tmp_path / "dead_letter") == []
        assert sample_api.stats()["by_path"][STYLES_PATH[style]] == 2 * 5 + 2 * 5  # window 01-02 read twice
        return
    assert code == 1
    assert stored_watermark(config) is None  # window 01-02 failed: the watermark stays where it was
    start, end = WINDOWS[0]
    if style in ("page_number", "offset"):
        error = (
            f"items window {start}/{end} page 5: the API announced 48 records (total_path 'total') on the window's "
            "first page and 47 on its last: records moved while the window was read; sort by a stable key or use "
            "cursor pagination"
        )
        written = [*range(49, 59), *range(60, 90), *range(97, 193)]  # pages 1 to 4 of window 01-02: 59 is skipped
    else:
        error = (
            f"items window {start}/{end} page 2: the API announced 48 records on the window's first page and 47 "
            "on this one: records moved while the window was read; sort by a stable key or use cursor pagination"
        )
        written = [*range(49, 59), *range(97, 193)]
    # A range fetched in two parts fails in each (pages 2 and 3 both announce 47): the first names page 2.
    failures = window_failures(tmp_path)
    assert {failure[:2] for failure in failures} == {(start, "failed")}
    assert failures[0][2] == error
    assert written_ids(tmp_path, style) == written


@pytest.mark.parametrize(
    ("style", "kind", "error"),
    [
        ("page_number", "null_200", "(status 200) has no body where a page of records was expected"),
        ("offset", "no_content_204", "(status 204) has no body where a page of records was expected"),
        (
            "cursor",
            "null_errors",
            '(status 200) has no records and reports an error: {"errors":[{"message":"internal error: the query '
            'failed"}]}',
        ),
        ("next_url", "empty_error", '(status 200) has no records and reports an error: {"error":"query timed out"}'),
        ("known_pages", "empty_error", '(status 200) has no records and reports an error: {"error":"query timed out"}'),
    ],
)
def test_a_body_without_records_that_stays_fails_its_window(style, kind, error, sample_api, write_config, tmp_path):
    """B.9: every page of window 01-03 answers `kind` however often asked: retried, then the window fails,
    naming the answer; the watermark stays at the window's start."""
    sample_api.set_faults(answer_faults=(kind,), answer_fault_since={"2024-01-03T00:00:00Z"})
    changes = style_config(style, primary_key=True)
    changes["api_config"] = {**changes["api_config"], "retry": {"max_attempts": 2, "base_delay": 0.01}}
    path, config = write_config(**changes)
    assert run(path) == 1

    (failure,) = window_failures(tmp_path)
    assert failure[:2] == ("2024-01-03T00:00:00Z", "failed")
    assert failure[2].startswith("items: the answer of http://127.0.0.1:")
    assert failure[2].endswith(error)
    assert stored_watermark(config) == t("2024-01-03")
    assert written_ids(tmp_path, style) == [*range(49, 97), *range(145, 193)]


def test_a_walk_split_mid_way_keeps_its_tally_rereads_in_the_residual_and_reports_the_served_page_size(
    sample_api, write_config
):
    """One window's walk (offsets, 4 served where 10 are asked, record 50 moved after page 1) split after its
    third page: the residual, sent through the restriction coder, finishes the first read with the tally it was
    handed, finds the totals differ, reads the window again, and each part reports the page size served."""
    sample_api.set_faults(page_cap=4, moving_records={50})
    _, config = write_config(**style_config("offset", primary_key=True))
    fn = WalkPagesFn(config, RestExtractor, RunnerProfile(can_defer=False))
    fn.setup()
    task = WindowTask("items", Window(t("2024-01-02"), t("2024-01-03")))
    try:
        tracker = ThreadsafeRestrictionTracker(PageWalkTracker(PageWalk()))
        first = []
        for output in fn.process(task.to_element(), tracker=RestrictionTrackerView(tracker)):
            first.append(output)
            if len(first) == 3:  # pages 1 to 3 are out
                primary, residual = tracker.try_split(0.5)
        coder = PageWalkProvider().restriction_coder()
        residual = coder.decode(coder.encode(residual))
        tracker = ThreadsafeRestrictionTracker(PageWalkTracker(residual))
        second = list(fn.process(task.to_element(), tracker=RestrictionTrackerView(tracker)))
        tracker.check_done()
    finally:
        fn.teardown()

    assert (primary.stop_index, residual.start.index, residual.start.tally) == (3, 3, WalkTally(0, 12, 48, 4, 0))
    outputs = first + second
    results = [WindowResult.from_element(o.value) for o in outputs if isinstance(o, TaggedOutput)]
    rows = [row["id"] for o in outputs if not isinstance(o, TaggedOutput) for row in o[1]]
    # Read twice: 47 records each time (record 50 is on page 1 of the first read only; 53 is in the second only).
    assert (len(rows), sorted(set(rows))) == (94, list(range(49, 97)))
    assert [(r.status, r.first_page, r.end_page, r.window_pages, r.announced_total, r.page_size) for r in results] == [
        (WindowStatus.DONE, 0, 3, None, 48, 4),
        (WindowStatus.DONE, 3, 24, 24, 47, 4),  # the second read announced 47
    ]
    assert window_complete(results)


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


def paging_config(style: str, **pagination) -> dict:
    """`style`'s config changes (with a primary key) with `pagination` keys set."""
    changes = style_config(style, primary_key=True)
    api = changes["api_config"]
    return {**changes, "api_config": {**api, "pagination": {**api.get("pagination", {}), **pagination}}}


@pytest.mark.parametrize(
    ("style", "ignored"), [("page_number", "page_param 'page'"), ("offset", "offset_param 'offset'")]
)
def test_an_api_that_ignores_the_paging_parameter_fails_each_window_whose_first_page_was_full(
    style, ignored, sample_api, write_config, tmp_path
):
    """Review F1: without `total_path` or `has_more_path`, an API that serves its first page whatever page or
    offset is asked repeats a full page 1 as page 2: the records after it are never served, so each window
    fails (it used to end done, with 38 of its 48 records lost) and the watermark is held."""
    sample_api.set_faults(ignore_paging=True)
    path, config = write_config(**paging_config(style, total_path=None))
    assert run(path) == 1

    assert stored_watermark(config) is None
    assert window_failures(tmp_path) == [
        (
            start,
            "failed",
            f"items window {start}/{end} page 2 repeats page 1, which was full: the API ignores {ignored}; "
            "configure the pagination the API documents",
        )
        for start, end in WINDOWS
    ]
    assert written_ids(tmp_path, style) == [*range(49, 59), *range(97, 107), *range(145, 155)]  # each page 1


@pytest.mark.parametrize(
    ("style", "page_size", "requests"),
    [
        ("page_number", 8, 7),  # 6 full pages reach the total of 48: page 7 is asked to be sure, and is a 404
        ("offset", 8, 7),
        ("known_pages", 8, 7),  # the planned last page (6) comes back full: page 7 is probed
        ("calculated_offset", 8, 7),
        ("page_number_no_total", 50, 2),  # a short first page without an end signal: page 2 is asked, a 404
    ],
)
def test_a_404_past_the_end_on_the_page_asked_to_be_sure_ends_the_window(
    style, page_size, requests, sample_api, write_config, tmp_path
):
    """Review F2: Django REST Framework and Flask-SQLAlchemy answer a page past the end with 404 "Invalid
    page.": on the page asked for only to make sure the window is over, that is its end, not a failure."""
    sample_api.set_faults(past_end_404=True)
    path, config = write_config(**paging_config(style, page_size=page_size))
    assert run(path) == 0

    assert written_ids(tmp_path, style) == ALL_IDS
    assert stored_watermark(config) == t(END)
    assert read_jsonl(tmp_path / "dead_letter") == []
    route = "/records" if "offset" in style else "/items"
    assert sample_api.stats()["by_path"] == {route: 3 * requests}
