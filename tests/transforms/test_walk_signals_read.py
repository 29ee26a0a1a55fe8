"""A window is complete only when the API says so, and data that moves under a walk is not lost (issue 27, cases
B.6 to B.9 and C.10), for every pagination style: ReadFromApi alone (its records placed and de-duplicated by
TransformRecords), in a TestPipeline on the local runner against the sample API's faults: page caps, capped
totals, empty pages that say more, null / 204 / error bodies, records that move during a walk. Each read ends in
the exact ids and the watermark its results commit, or in an explicit failed window with the watermark held and
the exact message. The same faults on every runner mode, in whole runs, are in tests/pipeline/test_walk_signals.py;
a walk split mid-way is tested on WalkPagesFn itself (tests/transforms/test_walk_pages.py)."""

from __future__ import annotations

import pytest

from tests.pipeline.test_walk_signals import ALL_IDS, KEYSET, SHIFTING, STYLES, STYLES_PATH, WINDOWS, style_config
from tests.support import t
from tests.transform_support import Read, config

END = "2024-01-05T00:00:00Z"


def read(sample_api, tmp_path, changes: dict) -> Read:
    """ReadFromApi of the windows 2024-01-02 .. END with the config `changes`."""
    return Read(tmp_path, config(tmp_path, sample_api.url, **changes), "2024-01-02", END)


def ids(found: Read, style: str) -> list[int]:
    return found.ids(key="number" if style == "link_header" else "id")


@pytest.mark.parametrize("primary_key", [True, False], ids=["primary_key", "no_key"])
@pytest.mark.parametrize("style", list(STYLES))
def test_a_capped_page_size_and_bodies_without_records_still_deliver_every_record(
    style, primary_key, sample_api, tmp_path
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
    found = read(sample_api, tmp_path, style_config(style, primary_key))

    assert ids(found, style) == ALL_IDS  # each once
    assert found.watermarks == {"items": t(END)}
    assert (found.failures, found.invalid) == ([], [])
    assert sample_api.injected() == dict.fromkeys(kinds, 1)


@pytest.mark.parametrize("primary_key", [True, False], ids=["primary_key", "no_key"])
@pytest.mark.parametrize("style", SHIFTING)
def test_a_capped_total_is_walked_past_or_fails_a_planned_range(style, primary_key, sample_api, tmp_path):
    """B.7: the API announces at most 20 records (Elasticsearch caps `hits.total`) where each window holds 48."""
    sample_api.set_faults(capped_total=20)
    found = read(sample_api, tmp_path, style_config(style, primary_key))

    if style in ("page_number", "offset"):  # a full page at the total is followed, and the walk goes on
        assert (found.failures, ids(found, style), found.watermarks) == ([], ALL_IDS, {"items": t(END)})
        return
    assert found.watermarks == {"items": None}  # every window failed: the watermark is held
    assert found.window_failures() == [
        (
            start,
            "failed",
            f"items window {start}/{end} page 2: the planned last page came back full and the page after it has "
            "10 more records: the API holds more than the 20 records its total announced",
        )
        for start, end in WINDOWS
    ]
    # The first page of each window was read; nothing past the page that failed.
    assert ids(found, style) == [*range(49, 59), *range(97, 107), *range(145, 155)]


@pytest.mark.parametrize("primary_key", [True, False], ids=["primary_key", "no_key"])
@pytest.mark.parametrize("style", [*SHIFTING, *KEYSET])
def test_a_record_that_moves_during_the_walk_is_read_again_or_fails_the_window(
    style, primary_key, sample_api, tmp_path
):
    """C.10: a record of window 01-02 is updated out of the window once its page 1 is served. Offsets and page
    numbers: record 50 (on page 1) moves, every later record shifts back one place, and record 59 would never
    be read. Keyset walks: record 70 (on page 3) moves to its new time, and nothing shifts."""
    sample_api.set_faults(moving_records={70 if style in KEYSET else 50})
    found = read(sample_api, tmp_path, style_config(style, primary_key))

    if style in KEYSET:  # the cursor names the last record read: nothing is lost, record 70 is in a later window
        moved = [record for record in ALL_IDS if record != 70]
        assert (ids(found, style), found.watermarks) == (moved, {"items": t(END)})
        assert (found.failures, found.invalid) == ([], [])
        return
    if style in ("page_number", "offset") and primary_key:  # read again: the second read is consistent
        # Record 50 was read on page 1 with its time in the window, once (the reread no longer finds it there).
        assert (ids(found, style), found.watermarks) == (ALL_IDS, {"items": t(END)})
        assert (found.failures, found.invalid) == ([], [])
        assert sample_api.stats()["by_path"][STYLES_PATH[style]] == 2 * 5 + 2 * 5  # window 01-02 read twice
        return
    assert found.watermarks == {"items": None}  # window 01-02 failed: the watermark stays where it was
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
    failures = found.window_failures()
    assert {failure[:2] for failure in failures} == {(start, "failed")}
    assert failures[0][2] == error
    assert ids(found, style) == written


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
def test_a_body_without_records_that_stays_fails_its_window(style, kind, error, sample_api, tmp_path):
    """B.9: every page of window 01-03 answers `kind` however often asked: retried, then the window fails,
    naming the answer; the watermark stays at the window's start."""
    sample_api.set_faults(answer_faults=(kind,), answer_fault_since={"2024-01-03T00:00:00Z"})
    changes = style_config(style, primary_key=True)
    changes["api_config"] = {**changes["api_config"], "retry": {"max_attempts": 2, "base_delay": 0.01}}
    found = read(sample_api, tmp_path, changes)

    (failure,) = found.window_failures()
    assert failure[:2] == ("2024-01-03T00:00:00Z", "failed")
    assert failure[2].startswith("items: the answer of http://127.0.0.1:")
    assert failure[2].endswith(error)
    assert found.watermarks == {"items": t("2024-01-03")}
    assert ids(found, style) == [*range(49, 97), *range(145, 193)]


def paging_config(style: str, **pagination) -> dict:
    """`style`'s config changes (with a primary key) with `pagination` keys set."""
    changes = style_config(style, primary_key=True)
    api = changes["api_config"]
    return {**changes, "api_config": {**api, "pagination": {**api.get("pagination", {}), **pagination}}}


@pytest.mark.parametrize(
    ("style", "ignored"), [("page_number", "page_param 'page'"), ("offset", "offset_param 'offset'")]
)
def test_an_api_that_ignores_the_paging_parameter_fails_each_window_whose_first_page_was_full(
    style, ignored, sample_api, tmp_path
):
    """Review F1: without `total_path` or `has_more_path`, an API that serves its first page whatever page or
    offset is asked repeats a full page 1 as page 2: the records after it are never served, so each window
    fails (it used to end done, with 38 of its 48 records lost) and the watermark is held."""
    sample_api.set_faults(ignore_paging=True)
    found = read(sample_api, tmp_path, paging_config(style, total_path=None))

    assert found.watermarks == {"items": None}
    assert found.window_failures() == [
        (
            start,
            "failed",
            f"items window {start}/{end} page 2 repeats page 1, which was full: the API ignores {ignored}; "
            "configure the pagination the API documents",
        )
        for start, end in WINDOWS
    ]
    assert ids(found, style) == [*range(49, 59), *range(97, 107), *range(145, 155)]  # each page 1


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
    style, page_size, requests, sample_api, tmp_path
):
    """Review F2: Django REST Framework and Flask-SQLAlchemy answer a page past the end with 404 "Invalid
    page.": on the page asked for only to make sure the window is over, that is its end, not a failure."""
    sample_api.set_faults(past_end_404=True)
    found = read(sample_api, tmp_path, paging_config(style, page_size=page_size))

    assert ids(found, style) == ALL_IDS
    assert found.watermarks == {"items": t(END)}
    assert (found.failures, found.invalid) == ([], [])
    route = "/records" if "offset" in style else "/items"
    assert sample_api.stats()["by_path"] == {route: 3 * requests}
