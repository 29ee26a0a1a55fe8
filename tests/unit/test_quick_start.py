"""Issue 31 item 4, a quick start: what a local run imports on top of Beam stays what it uses, Beam works out
each DoFn's state and timer specs once (`core.dofn_specs`), and a run without runner options uses one thread when
more have nothing to do at once (`runners.default_local_args`)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.transforms import userstate
from apache_beam.transforms.userstate import BagStateSpec

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.core import dofn_specs
from beam_api_pipeline.core.dofn_specs import cache_dofn_specs
from beam_api_pipeline.core.runners import WALK_THREADS
from beam_api_pipeline.run.prepare import prepare_run
from sample_api import Dataset, SampleApi
from tests.support import items_config, read_jsonl, t, write_yaml

ROOT = Path(__file__).resolve().parents[2]
CHILDREN = {"parent": "items", "path": "/items/{parent.id}/children", "records_path": "children"}

#: Runs the CLI's `run` in this interpreter after `import apache_beam`, then prints its exit code and the
#: modules the run added on top of Beam's own.
RUN_AND_LIST_MODULES = """
import json, sys
import apache_beam
before = set(sys.modules)
from beam_api_pipeline.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "added": sorted(set(sys.modules) - before)}))
"""
#: Third-party packages a local run into JSON Lines files may add to those `import apache_beam` loads: Beam's
#: own runner modules, and the config's pydantic and the client's tenacity.
RUN_PACKAGES = {
    "annotated_types",
    "apache_beam",
    "beam_api_pipeline",
    "grpc",
    "pydantic",
    "pydantic_core",
    "sortedcontainers",
    "tenacity",
    "typing_inspection",
}
#: What the run must not load when its config names none of it: the Redis rate limit, Cloud Monitoring, Secret
#: Manager, the OpenAPI reader, and the project's modules for them.
NOT_IMPORTED = [
    "redis",
    "google.cloud.monitoring_v3",
    "google.cloud.secretmanager",
    "jsonref",
    "beam_api_pipeline.client.redis_bucket",
    "beam_api_pipeline.client.redis_slots",
    "beam_api_pipeline.gcp.monitoring",
    "beam_api_pipeline.openapi.spec",
]


def test_a_local_run_imports_on_top_of_beam_only_what_it_uses(tmp_path: Path) -> None:
    dataset = Dataset(t("2024-01-02"), 1, 10)
    with SampleApi(dataset) as api:
        config = items_config(api.url, tmp_path)
        config["api_config"]["endpoints"]["items"]["primary_key"] = None
        config["api_config"]["pagination"]["page_size"] = 100  # one page
        path = write_yaml(tmp_path / "pipeline.yaml", config)
        command = ["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z", "--no_progress"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = subprocess.run(
            [sys.executable, "-c", RUN_AND_LIST_MODULES, *command], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert process.returncode == 0, process.stderr[-2000:]
        outcome = json.loads(process.stdout.strip().splitlines()[-1])
        assert api.stats()["requests"] == 1
    assert outcome["code"] == 0
    assert sorted(row["id"] for row in read_jsonl(tmp_path / "out", recursive=True)) == list(range(1, 11))
    added = set(outcome["added"])
    assert [name for name in NOT_IMPORTED if name in added] == []
    outside = {name.split(".")[0] for name in added} - set(sys.stdlib_module_names) - RUN_PACKAGES
    assert sorted(name for name in outside if not name.startswith("_sysconfigdata")) == []


_SEEN = BagStateSpec("seen", beam.coders.StrUtf8Coder())
_SEEN_STATE = beam.DoFn.StateParam(_SEEN)


class _Stateful(beam.DoFn):
    def process(self, element, seen=_SEEN_STATE):
        yield element


def test_dofn_specs_are_worked_out_once_per_dofn_and_answered_as_beam_does() -> None:
    stateful, plain = _Stateful(), beam.Map(str).fn
    expected = {id(d): userstate.get_dofn_specs(d) for d in (stateful, plain)}
    cache_dofn_specs()
    cache_dofn_specs()  # a second call keeps the one cache
    assert hasattr(userstate.get_dofn_specs, "answers")
    assert userstate.get_dofn_specs(stateful) == expected[id(stateful)] == ({_SEEN}, set())
    assert userstate.get_dofn_specs(plain) == expected[id(plain)] == (set(), set())
    states, _ = userstate.get_dofn_specs(stateful)
    states.clear()  # a caller's sets are its own
    assert userstate.get_dofn_specs(stateful) == ({_SEEN}, set())
    assert userstate.is_stateful_dofn(stateful) and not userstate.is_stateful_dofn(plain)


def test_the_cache_asks_beam_once_per_dofn_and_forgets_a_collected_one() -> None:
    asked: list[int] = []

    def compute(dofn):
        asked.append(id(dofn))
        return userstate.get_dofn_specs(dofn)

    specs = dofn_specs._cached(compute)
    stateful = _Stateful()
    answers = [specs(stateful) for _ in range(8)]
    assert (asked, answers) == ([id(stateful)], [({_SEEN}, set())] * 8)
    kept = specs.answers
    assert list(kept) == [id(stateful)]
    del stateful
    gc.collect()
    assert kept == {}


@pytest.mark.parametrize(
    ("days", "changes", "mode"),
    [
        (1, {}, ("in_memory", 1)),  # one window walked page by page: nothing for a second thread
        (2, {}, ("multi_threading", WALK_THREADS)),  # two windows walked at once
        (2, {"parallel_config": {"type": "known_pages"}}, ("in_memory", 1)),  # pages in flight in the fetch
        (1, {"endpoints": {"children": CHILDREN}}, ("multi_threading", WALK_THREADS)),  # children spread
    ],
)
def test_a_run_without_runner_options_uses_one_thread_when_more_have_nothing_to_do_at_once(
    tmp_path: Path, days, changes, mode
) -> None:
    config = PipelineConfig.model_validate(items_config("http://127.0.0.1:9", tmp_path, api_config=changes))
    store = LocalWatermarkStore(str(tmp_path / "control.db"))
    try:
        end = t("2024-01-02") + timedelta(days=days)
        pipeline, plan = prepare_run(config, store, [], t("2024-01-02"), end, run_id="20240104T000000Z-0a1b2c3d")
    finally:
        store.close()
    assert len(plan.tasks) == days
    direct = pipeline.options.view_as(DirectOptions)
    assert (direct.direct_running_mode, direct.direct_num_workers) == mode
