"""Splits and deferral for real: splits injected into both fetch DoFns on FnApiRunner, the splits Prism asks
for while a slow window is being fetched (from another thread), and a long Retry-After deferred on Prism."""

from __future__ import annotations

import json

import pytest

from sample_api import Dataset, SampleApi
from tests.runners.runs import run_pipeline
from tests.support import items_config, merged, prism_location, t

WALK = {"api_config": {"pagination": {"page_size": 10}}}
PAGE_RANGE = {
    "api_config": {
        "pagination": {"page_size": 10},
        "parallel_config": {"type": "known_pages", "max_concurrent_pages": 2},
    }
}
ONE_PAGE_AT_A_TIME_RANGE = {
    "api_config": {
        "endpoints": {"items": {"path": "/records", "records_path": "records", "primary_key": "id"}},
        "pagination": {"strategy": "offset", "page_size": 10, "total_path": "total"},
        "parallel_config": {"type": "calculated_offset", "max_concurrent_chunks": 1, "chunk_size": 100},
    }
}
STEPS = {"walk": "ReadFromApi/WalkPages/ParDo(WalkPagesFn)", "range": "ReadFromApi/FetchRanges/ParDo(FetchRangeFn)"}


@pytest.fixture
def api():
    with SampleApi(Dataset(days=10, records_per_day=200)) as sample_api:
        yield sample_api


def config(api, tmp_path, shape):
    base = items_config(api.url, tmp_path, api_config={"max_concurrent_requests": 4})
    return merged(base, shape)


@pytest.mark.parametrize("fraction", [0, 0.25, 0.5])
@pytest.mark.parametrize("kind", ["walk", "range"])
def test_splits_injected_into_each_fetch_dofn_keep_every_record_once(api, tmp_path, kind, fraction):
    api.set_faults(latency_ms=20)
    # The first split keeps one window in the bundle; the second lands inside its walk at `fraction`.
    splits = {STEPS[kind]: {"timings": [0, 0.1], "fractions": [0.01, fraction]}}
    runner = ["--direct_num_workers=1", "--direct_running_mode=multi_threading"]
    shape = WALK if kind == "walk" else PAGE_RANGE
    outcome = run_pipeline(
        config(api, tmp_path, shape),
        tmp_path,
        "--end_time",
        "2024-01-06",
        *runner,
        f"--direct_test_splits={json.dumps(splits)}",
    )

    assert outcome.exit_code == 0
    assert outcome.report["counters"]["split_parts"] == 1
    assert sorted(outcome.ids) == api.dataset.ids_between(t("2024-01-02"), t("2024-01-06"))
    assert len(outcome.ids) == len(set(outcome.ids)) == 800
    assert outcome.watermarks == {"items": t("2024-01-06")}


@pytest.mark.parametrize("shape", [WALK, ONE_PAGE_AT_A_TIME_RANGE], ids=["walk", "range"])
def test_prism_splits_a_slow_window_while_it_is_fetched_and_keeps_every_record_once(api, tmp_path, shape):
    """Prism asks a bundle to split when two progress reports 100 ms apart show no progress, and asks that bundle
    no more once the SDK answers with no split (stage.go: `unsplit = false`), as it does when the request comes
    before the bundle has started (a busy machine, a slow `setup`). So every run must keep each record once, and
    one of three runs must have split."""
    api.set_faults(latency_ms=700)  # a page slower than Prism's patience: it asks the running DoFn to split
    prism = ["--runner=PrismRunner", f"--prism_location={prism_location()}"]
    for attempt in range(3):
        folder = tmp_path / f"run-{attempt}"
        folder.mkdir()
        outcome = run_pipeline(config(api, folder, shape), folder, "--end_time", "2024-01-03", *prism)

        assert outcome.exit_code == 0
        assert sorted(outcome.ids) == api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
        assert len(outcome.ids) == len(set(outcome.ids)) == 200
        assert outcome.watermarks == {"items": t("2024-01-03")}
        if outcome.report["counters"]["split_parts"]:
            break
    assert outcome.report["counters"]["split_parts"] >= 1


def test_prism_defers_a_long_retry_after_instead_of_holding_a_worker_thread(api, tmp_path):
    api.set_faults(answer_faults=("429",), answer_fault_after=3, answer_fault_count=1, retry_after="7")
    prism = ["--runner=PrismRunner", f"--prism_location={prism_location()}"]
    outcome = run_pipeline(config(api, tmp_path, WALK), tmp_path, "--end_time", "2024-01-03", *prism)

    assert outcome.exit_code == 0
    assert outcome.report["counters"]["deferred_remainders"] == 1
    answers = api.answers()
    limited = next(i for i, (_, _, status) in enumerate(answers) if status == 429)
    assert answers[limited + 1][0] - answers[limited][0] >= 7  # the rest of the window came 7 s later
    assert outcome.run.endpoint_stats["items"]["seconds"] < 5  # and no part of the walk waited it out
    assert sorted(outcome.ids) == api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    assert len(outcome.ids) == len(set(outcome.ids)) == 200
    assert outcome.watermarks == {"items": t("2024-01-03")}
