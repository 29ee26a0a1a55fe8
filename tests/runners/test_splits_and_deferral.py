"""Splits and deferral for real: the splits Prism asks for while a slow window is being fetched (from another
thread), and a long Retry-After deferred on Prism. Splits injected into both fetch DoFns on FnApiRunner are
tested on ReadFromApi alone (tests/transforms/test_page_ranges.py)."""

from __future__ import annotations

import threading

import pytest
from apache_beam.io.restriction_trackers import OffsetRestrictionTracker

from beam_api_pipeline.fetch.walk_restriction import PageWalkTracker
from sample_api import Dataset, SampleApi
from tests.runners.runs import run_pipeline
from tests.support import items_config, merged, prism_location, t

WALK = {"api_config": {"pagination": {"page_size": 10}}}
ONE_PAGE_AT_A_TIME_RANGE = {
    "api_config": {
        "endpoints": {"items": {"path": "/records", "records_path": "records", "primary_key": "id"}},
        "pagination": {"strategy": "offset", "page_size": 10, "total_path": "total"},
        "parallel_config": {"type": "calculated_offset", "max_concurrent_chunks": 1, "chunk_size": 100},
    }
}


@pytest.fixture
def api():
    with SampleApi(Dataset(days=10, records_per_day=200)) as sample_api:
        yield sample_api


def config(api, tmp_path, shape):
    base = items_config(api.url, tmp_path, api_config={"max_concurrent_requests": 4})
    return merged(base, shape)


class SplitGate:
    """A sure trigger for Prism's split: every page the API is asked after its first 429 waits until a fetch
    DoFn's tracker has handed part of its restriction on (`split`, seen by `spy_on_splits`).

    Prism asks a bundle to split when two progress reports 100 ms apart show no progress, and asks that bundle
    no more once the SDK answers with no split (stage.go: `unsplit = false`), as the SDK does when the request
    comes before it has built the bundle's DoFns (a busy machine, a slow `setup`). So the run first defers its
    window (a 429 with a long Retry-After): the deferred rest runs in a second bundle of the same stage, whose
    DoFns the SDK built already, and there a held page is in flight until Prism's split request has come."""

    #: How long a page waits at most: past it the test fails on its `split_parts`, it does not hang.
    LONGEST_WAIT_SECONDS = 120

    def __init__(self) -> None:
        self.split = threading.Event()
        self.api: SampleApi | None = None
        self.holding = threading.Event()

    def hold(self) -> None:
        """Called by the API for each page: wait for the split once the API has answered a 429."""
        api = self.api
        if api is not None and not self.split.is_set() and any(s == 429 for _, _, s in api.answers()):
            self.holding.set()
            self.split.wait(self.LONGEST_WAIT_SECONDS)

    def granted(self) -> None:
        """A tracker granted a split: the one awaited if a page is held (a split of the deferred first bundle,
        whose part is not counted as split, is not)."""
        if self.holding.is_set():
            self.split.set()


class HeldDataset(Dataset):
    """The sample API's dataset, each page of it (`window`) first passing `gate.hold()`."""

    def __init__(self, gate: SplitGate, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def window(self, since=None, until=None):
        self.gate.hold()
        return super().window(since, until)


@pytest.fixture
def spy_on_splits(monkeypatch) -> SplitGate:
    """A SplitGate whose `split` is set by the first split either fetch DoFn's tracker grants (Prism's Python
    worker runs in this process: LOOPBACK)."""
    gate = SplitGate()
    for tracker in (PageWalkTracker, OffsetRestrictionTracker):
        monkeypatch.setattr(tracker, "try_split", _seen_by(gate, tracker.try_split))
    return gate


def _seen_by(gate: SplitGate, try_split):
    def spied(self, fraction_of_remainder):
        result = try_split(self, fraction_of_remainder)
        if result is not None:
            gate.granted()
        return result

    return spied


#: The data request (counted from 1) answered 429 with Retry-After 6, deferring the rest of the window: the
#: walk's first page; for the range, the first page FetchRangeFn asks (the planner read page 0 already).
DEFERRED_REQUEST = {"walk": 1, "range": 2}


@pytest.mark.parametrize("shape", [WALK, ONE_PAGE_AT_A_TIME_RANGE], ids=["walk", "range"])
def test_prism_splits_a_slow_window_while_it_is_fetched_and_keeps_every_record_once(
    spy_on_splits, tmp_path, shape, request
):
    kind = request.node.callspec.id
    with SampleApi(HeldDataset(spy_on_splits, days=10, records_per_day=200)) as api:
        spy_on_splits.api = api
        api.set_faults(
            answer_faults=("429",),
            answer_fault_after=DEFERRED_REQUEST[kind] - 1,
            answer_fault_count=1,
            retry_after="6",
        )
        prism = ["--runner=PrismRunner", f"--prism_location={prism_location()}"]
        outcome = run_pipeline(config(api, tmp_path, shape), tmp_path, "--end_time", "2024-01-03", *prism)

        assert spy_on_splits.split.is_set(), "no split came while the held page was in flight"
        assert outcome.exit_code == 0
        assert outcome.report["counters"]["split_parts"] >= 1
        assert sorted(outcome.ids) == api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
        assert len(outcome.ids) == len(set(outcome.ids)) == 200
        assert outcome.watermarks == {"items": t("2024-01-03")}


def test_prism_defers_a_long_retry_after_instead_of_holding_a_worker_thread(api, tmp_path):
    api.set_faults(answer_faults=("429",), answer_fault_after=3, answer_fault_count=1, retry_after="7")
    prism = ["--runner=PrismRunner", f"--prism_location={prism_location()}"]
    outcome = run_pipeline(config(api, tmp_path, WALK), tmp_path, "--end_time", "2024-01-03", *prism)

    assert outcome.exit_code == 0
    assert outcome.report["counters"]["deferred_remainders"] == 1
    answers = api.answers()
    limited = next(i for i, (_, _, status) in enumerate(answers) if status == 429)
    assert answers[limited + 1][0] - answers[limited][0] >= 7  # the rest of the window came 7 s later
    # and no part of the walk waited it out: each took less than the Retry-After (a bound a busy machine keeps)
    assert outcome.run.endpoint_stats["items"]["seconds"] < 7
    assert sorted(outcome.ids) == api.dataset.ids_between(t("2024-01-02"), t("2024-01-03"))
    assert len(outcome.ids) == len(set(outcome.ids)) == 200
    assert outcome.watermarks == {"items": t("2024-01-03")}
