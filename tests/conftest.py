"""Settings and fixtures for every test package: hypothesis explores freely on a developer's machine and replays
the same examples under CI (`HYPOTHESIS_PROFILE=ci`, set by `.ci/run`), so that a submission never fails on a
draw; `sample_api` is the bundled sample API on 127.0.0.1, one per test.

`make test` runs the tests marked `serial` on two pytest-xdist workers at the normal CPU priority and, beside
them, every other test on several workers at the idle priority (see docs/testing.md and tests/run_suite.sh).
Which tests go together is said here, once:
- `serial` (marked at collection, by path): tests that measure real rates or latencies, which a busy machine
  would distort;
- with `--dist loadgroup`, the tests of one file of ONE_WORKER_PER_FILE run on one worker, which starts the
  file's server (a session fixture) once; every other test goes to whichever worker is free. (xdist's own
  `xdist_group` marks do not work with pytest 9: they rename `item._nodeid`, which pytest 9 no longer reads.)
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from apache_beam.runners.direct.direct_runner import SwitchingDirectRunner
from hypothesis import settings

from sample_api import SampleApi

settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

TESTS = Path(__file__).parent

#: Tests (folders, files; paths under tests/) that measure real rates or latencies (requests a second, seconds
#: from an API's answer to the written file) or run streaming polls on a clock: they run at the normal CPU
#: priority while the parallel pass has only what they leave (`chrt --idle`). The streaming run into the
#: BigQuery emulator failed once in the parallel pass (its watcher found the watermark past rows the table did
#: not show yet, on a machine at a load average of 25); `plan`'s time estimate against a real run's time
#: (within 25 %) at a load of 8.
SERIAL = ("rate_limits/", "streaming/", "integration/test_streaming_bigquery.py", "pipeline/test_plan_command.py")

#: Folders whose files share a server started once per worker (a session fixture): each file on one worker.
ONE_WORKER_PER_FILE = ("real_servers", "openapi")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "serial: measures real rates or latencies; run alone (`-m serial`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(TESTS) and item.path.relative_to(TESTS).as_posix().startswith(SERIAL):
            item.add_marker(pytest.mark.serial)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """With `--dist loadgroup`: each file of ONE_WORKER_PER_FILE on one worker, every other test on its own."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerPerSharedServer(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            shared = any(path.startswith(f"tests/{folder}/") for folder in ONE_WORKER_PER_FILE)
            return path if shared else nodeid

    return OneWorkerPerSharedServer(config, log)


@pytest.fixture
def sample_api() -> Iterator[SampleApi]:
    with SampleApi() as api:
        yield api


@pytest.fixture(autouse=True, scope="session")
def no_beam_direct_runner() -> Iterator[None]:
    """Beam's DirectRunner tries Prism first, without the project's binary, and Beam keeps the Prism job server it
    started (or failed to start) for the whole process: one such run broke every later Prism run of its test
    worker (13 tests in one suite). A test runs its pipeline on the project's runner
    (`tests.transform_support.pipeline`, or `--runner=FnApiRunner`)."""

    def refuse(runner, pipeline, options):
        raise AssertionError("a test ran a pipeline on Beam's DirectRunner: use tests.transform_support.pipeline()")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SwitchingDirectRunner, "run_pipeline", refuse)
        yield
