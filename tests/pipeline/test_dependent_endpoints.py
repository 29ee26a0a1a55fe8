"""Dependent endpoints in whole runs against the sample API over HTTP, for what only the whole shows: each item's
children (`/items/{id}/children`, 1-3 pages of 10), fetched for the items that changed in a window, in every
runner mode, with both watermarks; Prism's own split of a batch of child tasks; incremental runs; a child that
is gone (404), its dead letter and its replay; grandchildren written with both parents' fields; the job-wide
concurrency cap. FetchChildren alone (injected splits, keys unique within a parent, parents lacking a field) is
in tests/transforms/test_fetch_children.py; `watermark.filter: client` on ReadFromApi alone in
tests/transforms/test_read_from_api_alone.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import load_pipeline_config
from sample_api import SampleApi
from sample_api.children import child_count, child_ids
from sample_api.data import Dataset
from tests.pipeline.conftest import run_report
from tests.support import (
    RUNNER_MODES,
    items_config,
    prism_location,
    read_jsonl,
    runner_mode_args,
    stored_watermark,
    t,
    write_yaml,
)
from tests.transforms.test_fetch_children import CHILDREN, RECORDS_PER_DAY, child_pages, children_paths

START, END = "2024-01-02T00:00:00Z", "2024-01-05T00:00:00Z"


@pytest.fixture
def api():
    with SampleApi(Dataset(records_per_day=RECORDS_PER_DAY)).start() as server:
        yield server


def write(api: SampleApi, folder: Path, with_children: bool = True, **changes: Any) -> Path:
    """The items config with `changes`, and the `children` endpoint unless `with_children` is false."""
    config = items_config(api.url, folder, **changes)
    if with_children:
        config["api_config"]["endpoints"]["children"] = {
            **CHILDREN,
            **config["api_config"]["endpoints"].get("children", {}),
        }
    return write_yaml(folder / "pipeline.yaml", config)


def rows(folder: Path, endpoint: str) -> list[dict[str, Any]]:
    return read_jsonl(folder / "out" / endpoint)


@pytest.mark.parametrize("mode", RUNNER_MODES)
@pytest.mark.parametrize("parent_key", ["id", None], ids=["parent_key", "no_parent_key"])
def test_children_of_every_parent_of_three_windows_land_once_with_their_parent(api, tmp_path, mode, parent_key):
    path = write(api, tmp_path, api_config={"endpoints": {"items": {"primary_key": parent_key}}})
    assert main(["run", "--config", str(path), "--end_time", END, *runner_mode_args(mode)]) == 0

    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
    assert len(parents) == 3 * RECORDS_PER_DAY
    assert sorted(row["id"] for row in rows(tmp_path, "items")) == parents
    children = rows(tmp_path, "children")
    assert sorted(row["id"] for row in children) == sorted(c for parent in parents for c in child_ids(parent))
    assert all(row["_parent_id"] == row["item_id"] == row["id"] // 100 for row in children)
    # one walk per parent, each page once
    assert children_paths(api) == {f"/items/{parent}/children": child_pages(parent) for parent in parents}
    config = load_pipeline_config(path)
    assert stored_watermark(config, "items") == stored_watermark(config, "children") == t("2024-01-05")


def test_prism_splits_a_slow_batch_of_child_tasks_while_it_is_walked_and_keeps_every_child_once(api, tmp_path):
    """Prism asks a bundle without progress to split (from another thread) and asks it once only (see
    tests/runners/test_splits_and_deferral.py): every run must be exact, and one of three must have split."""
    api.set_faults(latency_ms=700)  # slower than Prism's patience: no task is claimed before it asks
    prism = ["--runner=PrismRunner", f"--prism_location={prism_location()}"]
    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    for attempt in range(3):
        folder = tmp_path / f"run-{attempt}"
        folder.mkdir()
        path = write(api, folder, api_config={"max_concurrent_requests": 4})
        api.reset_stats()
        args = ["--config", str(path), "--start_time", "2024-01-02", "--end_time", "2024-01-03", *prism]
        code, report = run_report(folder, *args)

        assert code == 0
        children = [row["id"] for row in rows(folder, "children")]
        assert sorted(children) == sorted(c for parent in parents for c in child_ids(parent))
        assert len(children) == len(set(children))
        # a task is claimed when its walk starts: a split never makes two parts walk it
        assert children_paths(api) == {f"/items/{parent}/children": child_pages(parent) for parent in parents}
        assert stored_watermark(load_pipeline_config(path), "children") == t("2024-01-03")
        if report["counters"]["split_parts"]:
            break
    assert report["counters"]["split_parts"] >= 1


def test_a_second_run_fetches_children_only_for_parents_updated_since(api, tmp_path):
    path = write(api, tmp_path)
    assert main(["run", "--config", str(path), "--end_time", END]) == 0
    api.reset_stats()
    added = api.dataset.add_records(3, t("2024-01-05T06:00"))

    assert main(["run", "--config", str(path), "--end_time", "2024-01-06T00:00:00Z"]) == 0
    updated = api.dataset.ids_between(t("2024-01-05"), t("2024-01-06"))
    assert set(added) < set(updated) and len(updated) == RECORDS_PER_DAY + 3
    assert children_paths(api) == {f"/items/{parent}/children": child_pages(parent) for parent in updated}
    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-06"))
    written = sorted(row["id"] for row in rows(tmp_path, "children"))
    assert written == sorted(c for parent in parents for c in child_ids(parent))  # each once over both runs
    assert stored_watermark(load_pipeline_config(path), "children") == t("2024-01-06")


def test_a_child_that_is_gone_goes_to_the_dead_letter_and_replay_fetches_only_it(api, tmp_path):
    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
    gone = parents[RECORDS_PER_DAY + 4]  # a parent of the second window
    api.set_faults(missing_paths={f"/items/{gone}/children"})
    path = write(api, tmp_path)
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", END)
    assert code == 1
    assert (report["counters"]["child_tasks_succeeded"], report["counters"]["child_tasks_failed"]) == (35, 1)

    written = sorted(row["id"] for row in rows(tmp_path, "children"))
    assert written == sorted(c for parent in parents if parent != gone for c in child_ids(parent))
    assert sorted(row["id"] for row in rows(tmp_path, "items")) == parents
    [dead] = read_jsonl(tmp_path / "dead_letter")
    assert (dead["kind"], dead["endpoint"], dead["parent"]) == (
        "window",
        "children",
        {"key": gone, "fields": {"id": gone}},
    )
    assert (dead["window_start"], dead["window_end"]) == ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z")
    assert "404" in dead["error"] and f"/items/{gone}/children" in dead["error"]
    config = load_pipeline_config(path)
    assert stored_watermark(config, "items") == t("2024-01-05")
    assert stored_watermark(config, "children") == t("2024-01-03")  # held at the failed child's window

    api.set_faults(missing_paths=set())
    api.reset_stats()
    assert main(["replay", "--config", str(path), "--dead_letter", str(tmp_path / "dead_letter")]) == 0
    assert api.stats()["by_path"] == {f"/items/{gone}/children": child_pages(gone)}
    replayed = sorted(row["id"] for row in rows(tmp_path, "children") if row["_parent_id"] == gone)
    assert replayed == child_ids(gone)
    assert stored_watermark(config, "children") == t("2024-01-04")
    assert stored_watermark(config, "items") == t("2024-01-05")


def test_grandchildren_are_fetched_for_each_child(api, tmp_path):
    notes = {"parent": "children", "path": "/children/{parent.id}/notes", "records_path": "notes", "primary_key": "id",
             "include_from_parent": ["id", "item_id"]}  # fmt: skip
    path = write(api, tmp_path, api_config={"endpoints": {"notes": notes}})
    assert main(["run", "--config", str(path), "--start_time", "2024-01-02", "--end_time", "2024-01-02T06:00"]) == 0

    parents = api.dataset.ids_between(t("2024-01-02"), t("2024-01-02T06:00"))
    children = sorted(c for parent in parents for c in child_ids(parent))
    assert sorted(row["id"] for row in rows(tmp_path, "children")) == children
    written = rows(tmp_path, "notes")
    assert sorted(row["id"] for row in written) == sorted(child * 10 + n for child in children for n in (1, 2))
    assert all(
        row["_parent_id"] == row["child_id"] and row["_parent_item_id"] == row["child_id"] // 100 for row in written
    )
    config = load_pipeline_config(path)
    assert stored_watermark(config, "notes") == t("2024-01-02T06:00")


def test_parents_and_children_share_the_job_wide_concurrency_cap(api, tmp_path):
    api.set_faults(latency_ms=20)
    path = write(api, tmp_path, api_config={"max_concurrent_requests": 3})
    assert main(["run", "--config", str(path), "--end_time", END]) == 0
    assert len(rows(tmp_path, "children")) == sum(
        child_count(p) for p in api.dataset.ids_between(t("2024-01-02"), t("2024-01-05"))
    )
    assert api.stats()["max_in_flight"] == 3
