"""Dependent endpoints without Beam: the endpoint tree and its config errors, placeholders, which windows of a
child are complete, and a child's watermark, which never passes its parent's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from beam_api_pipeline.config import EndpointConfig, load_pipeline_config
from beam_api_pipeline.core.errors import ConfigError
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.plan.parents import EndpointTree, ParentRef, for_parent, parent_fields
from beam_api_pipeline.plan.run_plan import (
    RunPlan,
    WindowResult,
    WindowStatus,
    WindowTask,
    watermarks_after,
    window_outcomes,
)
from tests.support import items_config, t, write_yaml

DAY = timedelta(days=1)
CHILD = {"parent": "items", "path": "/items/{parent.id}/children", "records_path": "children"}


def config_with(endpoints: dict, **changes) -> dict:
    config = items_config("http://127.0.0.1:1", Path("/tmp/unused"), **changes)
    config["api_config"]["endpoints"].update(endpoints)
    return config


def problems(config: dict, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_pipeline_config(write_yaml(tmp_path / "p.yaml", config))
    return raised.value.problems


def test_the_tree_orders_endpoints_by_depth_and_finds_each_family():
    tree = EndpointTree({"items": None, "children": "items", "notes": "children", "other": None, "tags": "items"})
    assert tree.roots == ["items", "other"]
    assert tree.levels() == [["items", "other"], ["children", "tags"], ["notes"]]
    assert tree.family("items") == ["items", "children", "tags", "notes"]
    assert tree.depths() == {"items": 0, "other": 0, "children": 1, "tags": 1, "notes": 2}
    assert tree.lineage("notes") == ["items", "children", "notes"] and tree.lineage("other") == ["other"]


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        (
            {"children": {**CHILD, "parent": "itemz"}},
            "api_config.endpoints.children.parent: 'itemz' is not an endpoint (endpoints: children, items)",
        ),
        (
            {"a": {**CHILD, "parent": "b"}, "b": {**CHILD, "parent": "a"}},
            "api_config.endpoints.a.parent: the parents form a cycle: a -> b -> a",
        ),
        (
            {"children": {**CHILD, "parent": None}},
            "api_config.endpoints.children.parent: {parent.<field>} is used, but the endpoint has no parent",
        ),
        (
            {"children": {"path": "/x", "include_from_parent": ["id"]}},
            "api_config.endpoints.children.include_from_parent: only used with parent",
        ),
    ],
    ids=["unknown parent", "cycle", "placeholder without parent", "include without parent"],
)  # fmt: skip
def test_a_parent_that_does_not_make_a_tree_is_a_config_error_naming_the_key(endpoints, message, tmp_path):
    found = problems(config_with(endpoints), tmp_path)
    assert any(message in problem for problem in found), found


def test_client_filter_with_page_ranges_is_refused(tmp_path):
    config = config_with({}, api_config={"watermark": {"filter": "client"}, "parallel_config": {"type": "known_pages"}})
    found = problems(config, tmp_path)
    assert any("api_config.watermark.filter: client needs a page-by-page walk" in problem for problem in found), found


def test_placeholders_fill_the_path_quoted_and_keep_a_whole_value_typed():
    endpoint = EndpointConfig(
        path="/repos/{parent.repo.name}/issues/{parent.number}/comments",
        params={"issue": "{parent.number}", "label": "n-{parent.number}"},
        body={"ids": ["{parent.number}"]},
        parent="issues",
        include_from_parent=["number", "user.login"],
    )
    assert parent_fields(endpoint) == ["number", "repo.name", "user.login"]
    parent = ParentRef.for_record(
        {"id": 9, "number": 7, "repo": {"name": "a/b c"}, "user": {"login": "x"}}, "id", parent_fields(endpoint)
    )
    filled = for_parent(endpoint, parent)
    assert filled.path == "/repos/a%2Fb%20c/issues/7/comments"
    assert filled.params == {"issue": 7, "label": "n-7"}
    assert filled.body == {"ids": [7]}
    assert parent.key == 9 and parent.columns(endpoint.include_from_parent) == {
        "_parent_number": 7,
        "_parent_user_login": "x",
    }


def test_a_parent_without_a_placeholder_field_is_an_error_naming_it_and_the_parent():
    endpoint = EndpointConfig(path="/items/{parent.id}/children", parent="items")
    with pytest.raises(ValueError, match=r"^\{parent.id\}: the parent 12 has no 'id'$"):
        for_parent(endpoint, ParentRef.of(12, {"id": None}))


def at(day: int) -> Window:
    return Window(t("2024-01-01") + day * DAY, t("2024-01-01") + (day + 1) * DAY)


def done(task: WindowTask, pages: int = 1) -> WindowResult:
    return WindowResult(task, WindowStatus.DONE, pages, 10, first_page=0, end_page=pages, window_pages=pages)


def failed(task: WindowTask) -> WindowResult:
    return WindowResult(task, WindowStatus.FAILED, 0, 0, error="404", first_page=0, end_page=1)


def child(day: int, key: int) -> WindowTask:
    return WindowTask("children", at(day), ParentRef.of(key, {"id": key}))


PARENTS = {"items": None, "children": "items"}


def plan(**changes) -> RunPlan:
    tasks = [WindowTask("items", at(day)) for day in range(3)]
    fields = {"watermarks_before": {"items": None, "children": None}, "endpoint_parents": PARENTS, **changes}
    return RunPlan("r", "p", datetime.now(UTC), tasks, **fields)


def test_a_child_window_is_complete_when_its_parent_window_and_every_child_task_of_it_are():
    the_plan = plan()
    spawned = [child(0, 1), child(0, 2), child(1, 3), child(2, 4)]
    results = [done(task) for task in the_plan.tasks] + [done(child(0, 1)), done(child(0, 2), 3), failed(child(1, 3))]
    outcomes = window_outcomes(the_plan, results, spawned)  # child(2, 4) has no result: a runner lost it
    assert [o.complete for o in outcomes["items"]] == [True, True, True]
    assert [o.complete for o in outcomes["children"]] == [True, False, False]
    assert watermarks_after(the_plan, outcomes) == {"items": t("2024-01-04"), "children": t("2024-01-02")}


def test_a_child_window_with_no_parents_follows_its_parent_window():
    the_plan = plan()
    results = [done(the_plan.tasks[0]), failed(the_plan.tasks[1]), done(the_plan.tasks[2])]
    outcomes = window_outcomes(the_plan, results, [])
    assert [o.complete for o in outcomes["children"]] == [True, False, True]
    assert watermarks_after(the_plan, outcomes) == {"items": t("2024-01-02"), "children": t("2024-01-02")}


def test_a_child_watermark_never_passes_its_parent_and_never_jumps_a_gap():
    # the child lags at day 1 (a failed child task) while its parent is at day 3: this run, planned from the
    # oldest of the family, covers days 0-2 again, and the child may catch up to its parent only
    the_plan = plan(watermarks_before={"items": t("2024-01-04"), "children": t("2024-01-02")})
    results = [done(task) for task in the_plan.tasks]
    assert watermarks_after(the_plan, window_outcomes(the_plan, results, [])) == {
        "items": t("2024-01-04"),
        "children": t("2024-01-04"),
    }
    # a run that starts after the child's watermark (an explicit --start_time) leaves the child where it is
    later = plan(watermarks_before={"items": t("2024-01-01"), "children": t("2023-12-30")})
    results = [done(task) for task in later.tasks]
    after = watermarks_after(later, window_outcomes(later, results, []))
    assert after == {"items": t("2024-01-04"), "children": None}


def test_a_replayed_child_task_completes_its_window_alone():
    task = child(1, 3)
    replay = RunPlan(
        "r2", "p", datetime.now(UTC), [task], {"items": t("2024-01-04"), "children": t("2024-01-02")},
        is_replay=True, endpoint_parents=PARENTS,
    )  # fmt: skip
    outcomes = window_outcomes(replay, [done(task)], [task])
    assert {endpoint: [o.complete for o in found] for endpoint, found in outcomes.items()} == {"children": [True]}
    assert watermarks_after(replay, outcomes) == {"children": t("2024-01-03")}
