"""FetchChildren alone (SpawnChildTasks → batches → FetchChildTasksFn, the splittable DoFn that walks a batch of
child tasks), in a TestPipeline against the sample API over HTTP: parent batches in as TransformRecords keeps
them; out the children's exact ids, one walk per parent (each page once), the batches of tasks made, the parents
that lack a field, each child task's result, and the watermark of the child endpoint a commit of those results
stores (`window_outcomes` with the tasks spawned, as CommitWatermark does). Injected splits are
parametrized: a split is the one place the runner matters. Whole runs (every runner mode, Prism's own split, a
second run, a replay, grandchildren, the job-wide concurrency cap) are in tests/pipeline/test_dependent_endpoints.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from beam_api_pipeline.extractors.rest import RestExtractor
from beam_api_pipeline.fetch.child_fetch import batch_tasks
from beam_api_pipeline.fetch.read import RECORDS, RESULTS
from beam_api_pipeline.plan.run_plan import RunPlan, WindowResult, WindowStatus, watermarks_after, window_outcomes
from beam_api_pipeline.records.children import SPAWNED, FetchChildren
from beam_api_pipeline.records.transform import INVALID
from sample_api import SampleApi
from sample_api.children import child_count, child_ids
from sample_api.data import Dataset
from sample_api.faults import Faults
from tests.support import t
from tests.transform_support import Kept, api_records, config, done, pipeline, run, task

RECORDS_PER_DAY = 12
CHILD_PAGE = 10
CHILDREN = {
    "parent": "items",
    "path": "/items/{parent.id}/children",
    "records_path": "children",
    "primary_key": "id",
    "include_from_parent": ["id"],
    "pagination": {"strategy": "page_number", "page_size": CHILD_PAGE, "total_path": "total"},
}
DAY = task("2024-01-02", "2024-01-03")
SINGLE_THREAD = ["--direct_num_workers=1", "--direct_running_mode=multi_threading"]


@pytest.fixture
def api():
    with SampleApi(Dataset(records_per_day=RECORDS_PER_DAY)).start() as server:
        yield server


def child_pages(item_id: int) -> int:
    return -(-child_count(item_id) // CHILD_PAGE)


def children_paths(api: SampleApi) -> dict[str, int]:
    return {path: n for path, n in api.stats()["by_path"].items() if path.endswith("/children")}


class Fetched:
    """FetchChildren of the `children` endpoint for the parents of `windows` (each window's records as the API
    answers them, in pages of 10, with page 1 repeated when `repeat_first_page`), run with `options`."""

    def __init__(self, api, tmp_path, windows, children=CHILDREN, options=(), repeat_first_page=False):
        self.config = config(tmp_path, api.url, api_config={"endpoints": {"children": children}})
        kept = tmp_path / "kept"
        kept.mkdir()
        parents = [page for window in windows for page in api_records(api.dataset, Faults(), window)]
        if repeat_first_page:
            parents.append(parents[0])
        p = pipeline(*options)
        out = p | beam.Create(parents) | FetchChildren(self.config, RestExtractor, ["children"])
        rows = out[RECORDS] | "Rows" >> beam.FlatMap(lambda batch: batch[1])
        assert_that(rows, Kept(kept / "rows.json"), label="KeepRows")
        assert_that(out[RESULTS], Kept(kept / "results.json"), label="KeepResults")
        assert_that(out[SPAWNED], Kept(kept / "spawned.json"), label="KeepSpawned")
        invalid = out[INVALID] | beam.MapTuple(lambda task_element, record, reason: (record["id"], reason))
        assert_that(invalid, Kept(kept / "invalid.json"), label="KeepInvalid")
        self.counters = run(p)
        self.rows = Kept(kept / "rows.json").elements()
        self.results = [WindowResult.from_element(e) for e in Kept(kept / "results.json").elements()]
        self.spawned = [task for batch in Kept(kept / "spawned.json").elements() for task in batch_tasks(batch)]
        self.invalid = sorted(map(tuple, Kept(kept / "invalid.json").elements()))
        plan = RunPlan("r1", "sample_items", datetime.now(UTC), list(windows), endpoint_parents={"children": "items"})
        parent_results = [WindowResult.from_element(done(window)) for window in windows]
        outcomes = window_outcomes(plan, [*parent_results, *self.results], self.spawned)
        self.watermarks = watermarks_after(plan, outcomes)

    def ids(self) -> list[int]:
        return sorted(row["id"] for row in self.rows)


def test_each_parent_s_children_are_fetched_once_with_their_parent(api, tmp_path):
    windows = [DAY, task("2024-01-03", "2024-01-04"), task("2024-01-04", "2024-01-05")]
    fetched = Fetched(api, tmp_path, windows, repeat_first_page=True)  # a parent seen twice makes one task

    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert len(parents) == 3 * RECORDS_PER_DAY
    assert fetched.ids() == sorted(c for parent in parents for c in child_ids(parent))
    assert all(row["_parent_id"] == row["item_id"] == row["id"] // 100 for row in fetched.rows)
    assert sorted(task.parent.key for task in fetched.spawned) == parents  # each task once
    # one walk per parent, each page once
    assert children_paths(api) == {f"/items/{parent}/children": child_pages(parent) for parent in parents}
    assert {r.status for r in fetched.results} == {WindowStatus.DONE}
    assert (fetched.counters["child_tasks_succeeded"], fetched.counters.get("child_tasks_failed", 0)) == (36, 0)
    assert fetched.watermarks == {"items": t("2024-01-05"), "children": t("2024-01-05")}


@pytest.mark.parametrize("fraction", [0.25, 0.5])
def test_a_split_of_a_batch_of_child_tasks_keeps_every_child_once(api, tmp_path, fraction):
    api.set_faults(latency_ms=50)  # 12 child tasks of 1-3 pages, one request at a time: about 1.2 s
    label = "FetchChildren/FetchChildTasks/ParDo(FetchChildTasksFn)"
    splits = {label: {"timings": [0, 0.6], "fractions": [0.01, fraction]}}
    options = [*SINGLE_THREAD, f"--direct_test_splits={json.dumps(splits)}"]
    fetched = Fetched(api, tmp_path, [DAY], options=options)

    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    ids = [row["id"] for row in fetched.rows]
    assert sorted(ids) == sorted(c for parent in parents for c in child_ids(parent))
    assert len(ids) == len(set(ids))
    assert children_paths(api) == {f"/items/{parent}/children": child_pages(parent) for parent in parents}
    assert fetched.counters["split_parts"] == 1
    assert fetched.watermarks["children"] == t("2024-01-03")


def test_a_child_key_unique_only_within_its_parent_keeps_every_child(api, tmp_path):
    numbered = {**CHILDREN, "primary_key": "number"}  # 1..n within each item, as order lines are
    fetched = Fetched(api, tmp_path, [DAY], numbered)

    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    fetched_keys = sorted((row["_parent_id"], row["number"]) for row in fetched.rows)
    assert fetched_keys == sorted((parent, c % 100) for parent in parents for c in child_ids(parent))


def test_a_parent_without_the_field_a_child_needs_is_invalid_and_no_child_is_asked(api, tmp_path):
    fetched = Fetched(api, tmp_path, [DAY], {**CHILDREN, "path": "/items/{parent.nope}/children"})

    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    assert fetched.invalid == [(p, f"children: {{parent.nope}}: the parent {p} has no 'nope'") for p in parents]
    assert (fetched.rows, fetched.spawned, children_paths(api)) == ([], [], {})
    # the window completes: a record that cannot be used is kept in the dead letter, not retried forever
    assert fetched.watermarks["children"] == t("2024-01-03")


def test_a_child_that_is_gone_fails_its_task_only_and_holds_the_child_watermark(api, tmp_path):
    windows = [DAY, task("2024-01-03", "2024-01-04")]
    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-04"))
    gone = parents[RECORDS_PER_DAY + 4]  # a parent of the second window
    api.set_faults(missing_paths={f"/items/{gone}/children"})
    fetched = Fetched(api, tmp_path, windows)

    assert fetched.ids() == sorted(c for parent in parents if parent != gone for c in child_ids(parent))
    [failed] = [r for r in fetched.results if r.status.fails_window]
    assert (failed.task.endpoint, failed.task.parent.key, failed.task.window) == ("children", gone, windows[1].window)
    assert "404" in failed.error and f"/items/{gone}/children" in failed.error
    assert (fetched.counters["child_tasks_succeeded"], fetched.counters["child_tasks_failed"]) == (23, 1)
    assert fetched.watermarks == {"items": t("2024-01-04"), "children": t("2024-01-03")}
