"""A streaming run's page walk on Prism, whose runner asks a bundle to split when it makes no progress for about
100 ms (as Dataflow streaming checkpoints a bundle every few seconds): a page in flight stays with the walk that
fetches it, so no page is fetched twice, and every record lands once."""

from __future__ import annotations

from collections import Counter

from tests.live_api import streaming_config
from tests.support import merged, read_jsonl

#: Two records a page; the first quick, each after it answered after LATENCY_MS: Prism asks for a split while one of
#: them is in flight (the first page of a walk is held in any case, and Prism asks a bundle that declined no more).
SLOW_SMALL_PAGES = {"api_config": {"pagination": {"page_size": 2}}}
LATENCY_MS = 400


def test_a_page_in_flight_when_the_runner_splits_the_walk_is_fetched_once(live_api, run_streaming, tmp_path):
    live_api.api.set_faults(latency_ms=LATENCY_MS, latency_from_page=2)
    config = merged(streaming_config(live_api.api.url, tmp_path), SLOW_SMALL_PAGES)
    run = run_streaming(config, 12)

    assert run.code == 0, run.report["run"]["errors"]
    stats = run.report["run"]["endpoint_stats"]["items"]
    answered = [status for _, path, status in live_api.api.answers() if path == "/items"]
    assert stats["polls"] >= 3 and stats["pages"] >= 2 * stats["polls"]  # each poll walked several slow pages
    assert answered == [200] * stats["pages"]  # every page the walks counted was asked once, and no other
    ids = Counter(row["id"] for row in read_jsonl(tmp_path / "out", recursive=True))
    assert ids and max(ids.values()) == 1
    assert sorted(ids) == live_api.ids_before(run.watermark())
    assert run.lapses == []
