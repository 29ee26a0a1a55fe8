import itertools
import pickle

from beam_api_pipeline.config import PaginationConfig
from beam_api_pipeline.pagination import Page, PagePosition, create_strategy, link_targets
from beam_api_pipeline.pagination.base import (
    TOKEN_HISTORY,
    WalkTally,
    effective_page_size,
    record_count,
    token_fingerprint,
)

RECORD_IDS = itertools.count()


def page(records: int, **body) -> Page:
    """A page of `records` records, none of them on any other page."""
    items = [next(RECORD_IDS) for _ in range(records)]
    return Page(body={"items": items, **body}, headers={}, records=items)


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


def test_page_number_walk_without_an_end_signal_stops_on_a_page_shorter_than_the_ones_before():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=10))
    params = walk(strategy, [page(10), page(10), page(3)])
    assert params == [{"page": 1, "per_page": 10}, {"page": 2, "per_page": 10}, {"page": 3, "per_page": 10}]


def test_page_number_walk_without_an_end_signal_asks_past_a_short_first_page_which_may_be_a_cap():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=10))
    assert len(walk(strategy, [page(3), page(0)])) == 2  # 3 records in all: one more request to be sure
    assert len(walk(strategy, [page(5), page(5), page(5), page(2)])) == 4  # an API capping pages at 5


def test_page_number_walk_stops_at_the_total_on_a_page_that_is_not_full():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=10, total_path="total"))
    assert len(walk(strategy, [page(10, total=25), page(10, total=25), page(5, total=25)])) == 3
    # A full page reaching the total is followed by one more: a total can be capped (Elasticsearch's 10,000).
    assert len(walk(strategy, [page(10, total=20), page(10, total=20), page(0, total=20)])) == 3
    assert len(walk(strategy, [page(10, total=20), page(10, total=20), page(10, total=20), page(4, total=20)])) == 4


def test_page_number_walk_goes_on_after_a_short_page_while_the_total_says_more():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=10, total_path="total"))
    position = strategy.first_position()
    for _ in range(2):  # an API capping its pages at 4
        position = strategy.next_position(position, page(4, total=10))
    assert (position.token, position.tally.fetched, position.tally.announced, position.tally.size) == (3, 8, 10, 4)
    assert strategy.next_position(position, page(2, total=10)) is None


def test_page_number_walk_follows_an_empty_page_while_has_more_says_more():
    config = PaginationConfig(strategy="page_number", page_size=5, has_more_path="more")
    strategy = create_strategy(config)
    assert len(walk(strategy, [page(5, more=True), page(0, more=True), page(2, more=False)])) == 3


def test_page_number_walk_stops_when_has_more_is_false():
    config = PaginationConfig(strategy="page_number", page_size=5, has_more_path="meta.more", start_page=0)
    strategy = create_strategy(config)
    params = walk(strategy, [page(5, meta={"more": True}), page(5, meta={"more": False})])
    assert [p["page"] for p in params] == [0, 1]


def test_page_number_walk_stops_on_an_empty_page():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=2))
    assert len(walk(strategy, [page(2), page(0)])) == 2
    with_total = create_strategy(PaginationConfig(strategy="page_number", page_size=2, total_path="total"))
    assert len(walk(with_total, [page(2, total=9), page(0, total=9)])) == 2  # the extractor finds 2 of 9


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


def test_cursor_walk_follows_an_empty_page_with_a_cursor_and_says_when_an_end_announces_more():
    config = PaginationConfig(strategy="cursor", cursor_path="meta.next_cursor", has_more_path="has_more", page_size=3)
    strategy = create_strategy(config)
    assert len(walk(strategy, [cursor_page(3, "c1", True), cursor_page(0, "c2", True), cursor_page(1, None, False)]))
    assert strategy.next_position(PagePosition(0), cursor_page(0, "c2", True)) == PagePosition(1, "c2")
    assert strategy.says_more(cursor_page(0, None, True)) == "has_more (has_more_path) is true"
    assert strategy.says_more(cursor_page(0, None, False)) is None


def test_cursor_path_may_index_lists():
    config = PaginationConfig(strategy="cursor", cursor_path="data.-1", cursor_param="starting_after")
    strategy = create_strategy(config)
    position = strategy.next_position(strategy.first_position(), cursor_page(3, None))
    assert position == PagePosition(1, 2)
    assert strategy.request_params(position)["starting_after"] == 2


def test_disabled_pagination_is_a_single_page():
    strategy = create_strategy(PaginationConfig(enabled=False))
    assert walk(strategy, [page(100)]) == [{}]


def test_offset_walk_advances_by_the_records_served_and_without_an_end_signal_stops_on_a_shorter_page():
    strategy = create_strategy(PaginationConfig.with_offset(page_size=10))
    params = walk(strategy, [page(10), page(10), page(4)])
    assert params == [{"offset": 0, "limit": 10}, {"offset": 10, "limit": 10}, {"offset": 20, "limit": 10}]
    capped = walk(strategy, [page(6), page(6), page(0)])  # an API capping pages at 6: a short first page
    assert [p["offset"] for p in capped] == [0, 6, 12]


def test_offset_walk_stops_at_the_total_on_a_page_that_is_not_full_and_on_an_empty_page():
    config = PaginationConfig.with_offset(page_size=5, total_path="total", offset_param="skip", limit_param="take")
    strategy = create_strategy(config)
    assert walk(strategy, [page(5, total=9), page(4, total=9)]) == [{"skip": 0, "take": 5}, {"skip": 5, "take": 5}]
    # A full page reaching the total is followed by one more (a capped total), whose records go on the walk.
    assert [p["skip"] for p in walk(strategy, [page(5, total=5), page(5, total=5), page(2, total=5)])] == [0, 5, 10]
    assert len(walk(create_strategy(PaginationConfig.with_offset(page_size=5)), [page(5), page(0)])) == 2


def test_offset_walk_goes_on_after_a_short_page_while_the_total_or_has_more_says_more():
    strategy = create_strategy(PaginationConfig.with_offset(page_size=10, total_path="total"))
    assert [p["offset"] for p in walk(strategy, [page(4, total=10), page(4, total=10), page(2, total=10)])] == [0, 4, 8]
    with_more = create_strategy(PaginationConfig.with_offset(page_size=10, has_more_path="more"))
    assert [p["offset"] for p in walk(with_more, [page(4, more=True), page(3, more=False)])] == [0, 4]
    assert with_more.next_position(PagePosition(0, 0), page(0, more=True)) is None  # cannot go on: see says_more


def test_a_reread_starts_a_new_tally_after_the_last_page():
    strategy = create_strategy(PaginationConfig.with_offset(page_size=4, total_path="total"))
    second = strategy.next_position(strategy.first_position(), page(4, total=6))
    again = strategy.reread(second)
    assert (again.index, again.token, again.tally) == (2, 0, WalkTally(start=2, rereads=1))
    third = strategy.next_position(again, page(4, total=5))
    assert third.tally == WalkTally(start=2, fetched=4, announced=5, size=4, rereads=1)


def url_page(records: int, next_url, url="https://api.example.com/v1/feed?limit=2") -> Page:
    body = {"entries": list(range(records)), "links": {"next": next_url}}
    return Page(body=body, headers={}, records=body["entries"], url=url)


def test_next_url_walk_follows_absolute_and_relative_urls_until_none():
    strategy = create_strategy(PaginationConfig.with_next_url("links.next", page_size=2))
    assert strategy.follows_urls
    first = strategy.first_position()
    assert strategy.request_params(first) == {"limit": 2}
    second = strategy.next_position(first, url_page(2, "https://api.example.com/v1/feed?page_token=a"))
    assert second == PagePosition(1, "https://api.example.com/v1/feed?page_token=a")
    assert strategy.request_params(second) == {}
    third = strategy.next_position(second, url_page(2, "/v1/feed?page_token=b", url=second.token))
    assert third == PagePosition(2, "https://api.example.com/v1/feed?page_token=b")
    assert strategy.next_position(third, url_page(1, None)) is None
    fourth = strategy.next_position(third, url_page(0, "/v1/feed?page_token=c"))  # an empty page with a next link
    assert fourth == PagePosition(3, "https://api.example.com/v1/feed?page_token=c")


GITHUB_LINK = (
    '<https://api.github.com/repositories/1296269/issues?per_page=2&page=3>; rel="next", '
    '<https://api.github.com/repositories/1296269/issues?per_page=2&page=9>; rel="last", '
    '<https://api.github.com/repositories/1296269/issues?per_page=2&page=1>; rel="first", '
    '<https://api.github.com/repositories/1296269/issues?per_page=2&page=1>; rel="prev"'
)


def test_link_header_parsing_finds_rel_next_among_others():
    assert link_targets(GITHUB_LINK, "next") == ["https://api.github.com/repositories/1296269/issues?per_page=2&page=3"]
    assert link_targets(GITHUB_LINK, "last")[0].endswith("page=9")
    assert link_targets('</p2>; title="a, b"; rel=next, </p9>; rel="last"', "next") == ["/p2"]
    assert link_targets('</both>; rel="next last"', "next") == ["/both"]
    assert link_targets('</p9>; rel="last"', "next") == []


def link_page(records: int, link: str | None) -> Page:
    headers = {"link": link} if link else {}
    return Page(body=list(range(records)), headers=headers, records=list(range(records)), url="https://h/x?a=1")


def test_link_header_walk_requests_per_page_first_then_the_next_links():
    strategy = create_strategy(PaginationConfig.with_link_header(page_size=2))
    first = strategy.first_position()
    assert strategy.request_params(first) == {"per_page": 2}
    second = strategy.next_position(first, link_page(2, GITHUB_LINK))
    assert second.token == "https://api.github.com/repositories/1296269/issues?per_page=2&page=3"
    assert strategy.request_params(second) == {}
    assert strategy.next_position(second, link_page(2, '</x?page=9>; rel="last"')) is None
    assert strategy.next_position(second, link_page(1, None)) is None
    assert strategy.next_position(second, link_page(2, '</x?page=4>; rel="next"')).token == "https://h/x?page=4"
    assert strategy.next_position(second, link_page(0, '</x?page=4>; rel="next"')).token == "https://h/x?page=4"


def graphql_page(records: int, has_next: bool, cursor) -> Page:
    body = {
        "data": {"events": {"nodes": list(range(records)), "pageInfo": {"hasNextPage": has_next, "endCursor": cursor}}}
    }
    return Page(body=body, headers={}, records=body["data"]["events"]["nodes"])


def test_graphql_walk_passes_end_cursor_as_a_variable_until_has_next_page_is_false():
    config = PaginationConfig.with_graphql("data.events.pageInfo", cursor_param="after")
    strategy = create_strategy(config)
    first = strategy.first_position()
    assert strategy.request_params(first) == {}
    second = strategy.next_position(first, graphql_page(3, True, "c1"))
    assert strategy.request_params(second) == {"after": "c1"}
    assert strategy.next_position(second, graphql_page(3, False, "c2")) is None
    assert strategy.next_position(second, graphql_page(3, True, None)) is None
    assert strategy.says_more(graphql_page(3, True, None)) == "data.events.pageInfo.hasNextPage is true"
    assert strategy.next_position(second, graphql_page(0, True, "c2")).token == "c2"  # an empty page saying more


def test_a_position_knows_which_earlier_page_its_token_repeats():
    position = PagePosition(0)
    for token in ("a", "b", "c"):
        position = position.advance(token)
        assert position.repeated_page() is None
    looped = position.advance("a")  # page 5 asks for what page 2 asked for
    assert (looped.index, looped.repeated_page()) == (4, 2)
    assert position.advance("c").repeated_page() == 4


def test_token_history_is_bounded_and_travels_with_the_position():
    position = PagePosition(0)
    for number in range(TOKEN_HISTORY + 10):
        position = position.advance(f"t{number}")
    assert len(position.seen) == TOKEN_HISTORY
    restored = pickle.loads(pickle.dumps(position))
    assert restored.seen == position.seen
    assert restored.advance(f"t{TOKEN_HISTORY + 5}").repeated_page() == TOKEN_HISTORY + 7  # t_k was page k + 2
    assert token_fingerprint("abc") == 0x6C63E9F3F2941CCE  # the same in every worker process


def test_positions_compare_by_index_and_token_only():
    assert PagePosition(0).advance("x") == PagePosition(1, "x")


def test_a_walk_without_an_end_signal_ends_before_a_page_that_repeats_the_one_before():
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=10))
    notes = Page(body={"notes": [1, 2]}, headers={}, records=[1, 2])  # an endpoint that ignores `page`
    first = strategy.first_position()
    second = strategy.next_position(first, notes)  # a short first page may be a cap: page 2 is asked for
    assert (second.token, strategy.repeats_previous(first, notes)) == (2, False)
    assert strategy.repeats_previous(second, notes)  # the walk reads no more of it
    assert strategy.next_position(second, notes) is None
    assert not strategy.repeats_previous(second, Page(body={}, headers={}, records=[3, 4]))
    with_total = create_strategy(PaginationConfig(strategy="page_number", page_size=10, total_path="total"))
    assert not with_total.repeats_previous(with_total.next_position(first, page(10, total=30)), notes)


def test_page_number_walk_asks_its_later_pages_in_the_size_the_first_page_was_served_with():
    """F3: after a first page capped at 4 (10 asked), pages are asked for 4 at a time, so that page 2 starts at
    record 5, as a range planned from the same first page counts them (`effective_page_size`)."""
    strategy = create_strategy(PaginationConfig(strategy="page_number", page_size=10, total_path="total"))
    params = walk(strategy, [page(4, total=10), page(4, total=10), page(2, total=10)])
    assert params == [{"page": 1, "per_page": 10}, {"page": 2, "per_page": 4}, {"page": 3, "per_page": 4}]
    full = walk(strategy, [page(10, total=15), page(5, total=15)])
    assert full == [{"page": 1, "per_page": 10}, {"page": 2, "per_page": 10}]
    bare = create_strategy(PaginationConfig(strategy="page_number", page_size=10))
    assert walk(bare, [page(3), page(0)]) == [{"page": 1, "per_page": 10}, {"page": 2, "per_page": 3}]


def test_the_effective_page_size_is_the_first_pages_length_only_when_shorter_than_asked_and_the_total():
    assert [effective_page_size(10, served, total) for served, total in [(4, 48), (4, None), (10, 48)]] == [4, 4, 10]
    assert [effective_page_size(10, served, total) for served, total in [(4, 4), (0, 48), (None, None)]] == [10] * 3


def test_a_count_is_an_int_at_least_zero_and_not_a_bool():
    assert [record_count(value) for value in (0, 12, -1, True, "12", 1.0, None)] == [
        0,
        12,
        None,
        None,
        None,
        None,
        None,
    ]
