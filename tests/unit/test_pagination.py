import pytest

from beam_api_pipeline.config import PaginationConfig
from beam_api_pipeline.errors import PaginationError
from beam_api_pipeline.pagination import Page, PagePosition, create_strategy


def page(records: int, **body) -> Page:
    return Page(body={"items": list(range(records)), **body}, headers={}, records=list(range(records)))


def walk(strategy, pages: list[Page]) -> list[dict]:
    """The request params of each page, following next_position until it says stop."""
    position = strategy.first_position()
    requested = []
    for answer in pages:
        requested.append(strategy.request_params(position))
        position = strategy.next_position(position, answer)
        if position is None:
            return requested
    raise AssertionError("the walk did not stop")


def test_page_number_walk_stops_on_a_short_page():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=10))
    params = walk(strategy, [page(10), page(10), page(3)])
    assert params == [{"page": 1, "per_page": 10}, {"page": 2, "per_page": 10}, {"page": 3, "per_page": 10}]


def test_page_number_walk_stops_at_the_total():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=10, total_path="total"))
    assert len(walk(strategy, [page(10, total=20), page(10, total=20), page(0)])) == 2


def test_page_number_walk_stops_when_has_more_is_false():
    config = PaginationConfig(strategy="page_number", page_size=5, has_more_path="meta.more", start_page=0)
    strategy = create_strategy(config)
    params = walk(strategy, [page(5, meta={"more": True}), page(5, meta={"more": False})])
    assert [p["page"] for p in params] == [0, 1]


def test_page_number_walk_stops_on_an_empty_page():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=2))
    assert len(walk(strategy, [page(2), page(0)])) == 2


def cursor_page(records: int, cursor, has_more=None) -> Page:
    body = {"data": list(range(records)), "meta": {"next_cursor": cursor}}
    if has_more is not None:
        body["has_more"] = has_more
    return Page(body=body, headers={}, records=body["data"])


def test_cursor_walk_passes_each_cursor_and_stops_without_one():
    strategy = create_strategy(PaginationConfig(strategy="cursor", cursor_path="meta.next_cursor", page_size=3))
    params = walk(strategy, [cursor_page(3, "c1"), cursor_page(3, "c2"), cursor_page(1, None)])
    assert params == [{"limit": 3}, {"limit": 3, "cursor": "c1"}, {"limit": 3, "cursor": "c2"}]


def test_cursor_walk_stops_when_has_more_is_false():
    config = PaginationConfig(strategy="cursor", cursor_path="meta.next_cursor", has_more_path="has_more", page_size=3)
    strategy = create_strategy(config)
    assert len(walk(strategy, [cursor_page(3, "c1", True), cursor_page(3, "c2", False)])) == 2


def test_cursor_path_may_index_lists():
    config = PaginationConfig(strategy="cursor", cursor_path="data.-1", cursor_param="starting_after")
    strategy = create_strategy(config)
    position = strategy.next_position(strategy.first_position(), cursor_page(3, None))
    assert position == PagePosition(1, 2)
    assert strategy.request_params(position)["starting_after"] == 2


def test_a_repeated_cursor_is_an_error_naming_the_page():
    strategy = create_strategy(PaginationConfig(strategy="cursor", cursor_path="meta.next_cursor"))
    position = strategy.next_position(strategy.first_position(), cursor_page(3, "same"))
    with pytest.raises(PaginationError, match=r"page 2: the API returned the same cursor 'same' again"):
        strategy.next_position(position, cursor_page(3, "same"))


def test_disabled_pagination_is_a_single_page():
    strategy = create_strategy(PaginationConfig(enabled=False))
    assert walk(strategy, [page(100)]) == [{}]
