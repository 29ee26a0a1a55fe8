import pickle

from beam_api_pipeline.config import PaginationConfig
from beam_api_pipeline.pagination import Page, PagePosition, create_strategy, link_targets
from beam_api_pipeline.pagination.base import TOKEN_HISTORY, token_fingerprint


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


def test_disabled_pagination_is_a_single_page():
    strategy = create_strategy(PaginationConfig(enabled=False))
    assert walk(strategy, [page(100)]) == [{}]


def test_offset_walk_advances_by_page_size_and_stops_on_a_short_page():
    strategy = create_strategy(PaginationConfig.with_offset(page_size=10))
    params = walk(strategy, [page(10), page(10), page(4)])
    assert params == [{"offset": 0, "limit": 10}, {"offset": 10, "limit": 10}, {"offset": 20, "limit": 10}]


def test_offset_walk_stops_at_the_total_and_on_an_empty_page():
    config = PaginationConfig.with_offset(page_size=5, total_path="total", offset_param="skip", limit_param="take")
    strategy = create_strategy(config)
    assert walk(strategy, [page(5, total=10), page(5, total=10)]) == [{"skip": 0, "take": 5}, {"skip": 5, "take": 5}]
    assert len(walk(create_strategy(PaginationConfig.with_offset(page_size=5)), [page(5), page(0)])) == 2


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
    assert strategy.next_position(third, url_page(0, "/v1/feed?page_token=c")) is None


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
    assert strategy.next_position(second, graphql_page(0, True, "c2")) is None


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
