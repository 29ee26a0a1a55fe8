"""A window is complete only when the API says so (issue 27): the extractor's end-of-walk checks and the answers
`read_page` refuses to take for an empty page. No network: pages are built by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from beam_api_pipeline.client.api_client import ApiResponse
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.core.errors import ApiError, PaginationError, RetryableApiError
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors import RestExtractor
from beam_api_pipeline.extractors.base import MAX_REREADS
from beam_api_pipeline.pagination import Page, PagePosition
from beam_api_pipeline.pagination.base import is_past_end, past_end_page

WINDOW = Window(datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))
WHERE = "things window 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z"


def extractor(primary_key: str | None = "id", **pagination) -> RestExtractor:
    config = PipelineConfig.model_validate(
        {
            "pipeline_id": "unit",
            "extractor_class": "rest",
            "api_config": {
                "base_url": "https://api.example.com/v1",
                "endpoints": {"things": {"path": "/things", "records_path": "items", "primary_key": primary_key}},
                "pagination": pagination,
                "watermark": {"enabled": True, "watermark_field": "since", "initial_watermark": "2024-01-01"},
            },
        }
    )
    return RestExtractor(config, "things")


def page(records: int, **body) -> Page:
    return Page({"items": list(range(records)), **body}, {}, list(range(records)))


def walk(extractor: RestExtractor, pages: list[Page]) -> list[PagePosition]:
    """The positions of the pages walked, following the extractor's next_position until it says stop."""
    position = extractor.pagination.first_position()
    walked = []
    for answer in pages:
        walked.append(position)
        position = extractor.next_position(WINDOW, position, answer)
        if position is None:
            return walked
    raise AssertionError("the walk did not stop")


def test_a_walk_that_fetched_fewer_records_than_announced_fails_with_both_numbers():
    cursor = extractor(strategy="cursor", cursor_path="next", page_size=5, total_path="total")
    with pytest.raises(PaginationError) as error:
        walk(cursor, [page(5, total=12, next="a"), page(2, total=12)])
    assert str(error.value) == (
        f"{WHERE} page 2: 7 records fetched, fewer than the 12 the API announced (total_path 'total') on the "
        "window's first page (page size served: 5); use a smaller window_size if the API limits how far a walk goes"
    )
    assert len(walk(cursor, [page(5, total=7, next="a"), page(2, total=7)])) == 2
    assert len(walk(cursor, [page(0, total=0)])) == 1  # an honest empty window


def test_a_walk_that_ends_while_the_api_says_more_fails():
    offset = extractor(strategy="offset", page_size=5, has_more_path="has_more")
    with pytest.raises(PaginationError) as error:
        walk(offset, [page(5, has_more=True), page(0, has_more=True)])
    assert str(error.value) == (
        f"{WHERE} page 2: the walk ended while has_more (has_more_path) is true: the API says more records follow; "
        "check the pagination keys against the API's documentation"
    )


def test_an_offset_walk_whose_total_changed_reads_the_window_again_then_fails():
    offset = extractor(strategy="offset", page_size=5, total_path="total")
    moved = [page(5, total=12), page(5, total=11), page(1, total=11)]  # a record in front was deleted
    good = [page(5, total=11), page(5, total=11), page(1, total=11)]
    walked = walk(offset, moved + good)
    assert [(p.index, p.token, p.tally.rereads) for p in walked] == [
        (0, 0, 0),
        (1, 5, 0),
        (2, 10, 0),
        (3, 0, 1),
        (4, 5, 1),
        (5, 10, 1),
    ]
    with pytest.raises(PaginationError) as error:
        walk(offset, moved * (MAX_REREADS + 1))
    assert str(error.value) == (
        f"{WHERE} page 9: the API announced 12 records (total_path 'total') on the window's first page and 11 on "
        "its last: records moved while the window was read; sort by a stable key or use cursor pagination; the "
        "window was read 3 times"
    )


def test_without_a_primary_key_a_moved_window_fails_at_once():
    offset = extractor(primary_key=None, strategy="offset", page_size=5, total_path="total")
    with pytest.raises(
        PaginationError, match=r"page 3: the API announced 12 records .* and 11 on its last: .*pagination$"
    ):
        walk(offset, [page(5, total=12), page(5, total=11), page(1, total=11)])


def test_a_page_number_walk_that_fetched_fewer_than_announced_reads_again():
    numbers = extractor(strategy="page_number", page_size=5, total_path="total")
    walked = walk(
        numbers, [page(5, total=11), page(5, total=11), page(0, total=11), *[page(5, total=10)] * 2, page(0, total=10)]
    )
    assert [(p.token, p.tally.rereads) for p in walked] == [(1, 0), (2, 0), (3, 0), (1, 1), (2, 1), (3, 1)]


def response(body, status=200) -> ApiResponse:
    return ApiResponse(status, {}, body, "https://api.example.com/v1/things?page=2")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (None, 200, "has no body where a page of records was expected"),
        (None, 204, "has no body where a page of records was expected"),
        ({"items": None, "errors": [{"message": "boom"}]}, 200, 'reports an error: {"errors":[{"message":"boom"}]}'),
        ({"items": [], "error": "query timed out"}, 200, 'reports an error: {"error":"query timed out"}'),
    ],
)
def test_an_answer_without_records_where_records_were_expected_is_a_retryable_failed_page(body, status, message):
    with pytest.raises(RetryableApiError) as error:
        extractor(strategy="page_number").read_page(response(body, status))
    where = "things: the answer of https://api.example.com/v1/things?page=2"
    prefix = f"{where} (status {status}) "
    assert str(error.value) in (prefix + message, prefix + "has no records and " + message)


def test_an_honest_empty_page_stays_a_page():
    reader = extractor(strategy="page_number")
    assert reader.read_page(response({"items": [], "total": 0})).records == []
    assert reader.read_page(response({"items": None, "total": 0})).records == []  # Go's nil slice
    assert reader.read_page(response({"items": [1], "error": "partial"})).records == [1]


def test_a_cursor_walk_owes_the_smaller_of_its_first_and_last_totals():
    cursor = extractor(strategy="cursor", cursor_path="next", page_size=5, total_path="total")
    # A record ahead of the cursor left the window (its new time is in a later one): 11 owed, 11 fetched.
    assert len(walk(cursor, [page(5, total=12, next="a"), page(5, total=11, next="b"), page(1, total=11)])) == 3
    with pytest.raises(PaginationError, match=r"page 3: 10 records fetched, fewer than the 12 the API announced"):
        walk(cursor, [page(5, total=12, next="a"), page(5, total=11, next="b"), page(0, total=11)])


@pytest.mark.parametrize(
    ("pagination", "ignored"),
    [
        ({"strategy": "offset"}, "offset_param 'offset'"),
        ({"strategy": "page_number"}, "page_param 'page'"),
    ],
)
def test_a_full_page_repeated_without_an_end_signal_fails_as_an_api_that_ignores_paging(pagination, ignored):
    """F1: an API that ignores the offset or page parameter serves its first page again: when that page was full
    the records after it are never served, and the window fails instead of ending done."""
    paged = extractor(page_size=5, total_path=None, **pagination)
    first = page(5)
    with pytest.raises(PaginationError) as error:
        walk(paged, [first, first])
    assert str(error.value) == (
        f"{WHERE} page 2 repeats page 1, which was full: the API ignores {ignored}; configure the pagination the "
        "API documents"
    )
    # A short page answered again is the last page: the walk ends before reading the repeat.
    short = page(3)
    assert [position.index for position in walk(paged, [short, short])] == [0, 1]
    assert paged.pagination.repeats_previous(walk(paged, [short, short])[1], short)


def test_only_the_page_asked_for_to_make_sure_a_walk_is_over_is_a_probe():
    """F2: the page after a full page that reached the total, and the page after a short first page without an
    end signal, are probes (a 404 there reads as an empty page); no other page is."""
    totals = extractor(strategy="page_number", page_size=5, total_path="total").pagination
    first = totals.first_position()
    second = totals.next_position(first, page(5, total=10))
    third = totals.next_position(second, page(5, total=10))
    assert [totals.is_probe(position) for position in (first, second, third)] == [False, False, True]
    capped = totals.next_position(first, page(4, total=10))  # a short page while the total says more: a cap
    assert not totals.is_probe(capped)
    bare = extractor(strategy="offset", page_size=5, total_path=None).pagination
    after_short = bare.next_position(bare.first_position(), page(3))
    after_full = bare.next_position(bare.first_position(), page(5))
    assert (bare.is_probe(after_short), bare.is_probe(after_full)) == (True, False)
    later = Page({"items": list(range(5, 10))}, {}, list(range(5, 10)))
    assert not bare.is_probe(bare.next_position(after_full, later))
    flagged = extractor(strategy="page_number", page_size=5, total_path=None, has_more_path="more").pagination
    assert not flagged.is_probe(flagged.next_position(flagged.first_position(), page(3, more=True)))
    cursor = extractor(strategy="cursor", cursor_path="next", page_size=5, total_path="total").pagination
    assert not cursor.is_probe(cursor.next_position(cursor.first_position(), page(5, total=10, next="a")))


def test_a_404_past_the_end_is_an_empty_page_and_other_statuses_stay_failures():
    """F2: only a 404 reads as "past the end" (Django REST Framework, Flask-SQLAlchemy); Elasticsearch's 400 past
    its cap, where records remain, does not."""
    assert is_past_end(ApiError("GET /things answered 404: Invalid page.", status=404))
    assert not is_past_end(ApiError("GET /things answered 400: Result window is too large", status=400))
    assert not is_past_end(RetryableApiError("GET /things answered 503", status=503))
    empty = past_end_page("https://api.example.com/v1/things?page=3")
    assert (empty.records, empty.url) == ([], "https://api.example.com/v1/things?page=3")
