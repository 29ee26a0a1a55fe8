"""A streaming run that names no runner runs on the project's Prism when it is there, and says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from beam_api_pipeline.core.runners import PROJECT_PRISM, project_prism, with_project_prism


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_streaming_run_without_a_runner_uses_prism_location_and_logs_it(tmp_path, caplog):
    prism = executable(tmp_path / "bin" / "prism")
    caplog.set_level(logging.INFO, logger="beam_api_pipeline.core.runners")
    args = with_project_prism(["--no_progress"], streaming=True, environ={"PRISM_LOCATION": str(prism)})
    assert args == ["--no_progress", "--runner=PrismRunner", f"--prism_location={prism}"]
    assert [record.getMessage() for record in caplog.records] == [
        f"a streaming run and no --runner: running on Prism, {prism} (give --runner to choose another)"
    ]


def test_the_projects_own_prism_is_found_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert project_prism({}) is None
    executable(tmp_path / PROJECT_PRISM)
    assert project_prism({}) == PROJECT_PRISM
    assert with_project_prism([], streaming=True, environ={}) == [
        "--runner=PrismRunner",
        f"--prism_location={PROJECT_PRISM}",
    ]


@pytest.mark.parametrize(
    ("args", "streaming", "found"),
    [
        (["--runner=DataflowRunner"], True, True),  # a runner named: kept
        ([], False, True),  # a batch run: the local runner
        ([], True, False),  # no Prism: refused later, as before (`checks.config_problems`)
    ],
)
def test_otherwise_the_options_stay_as_they_are(tmp_path, args, streaming, found):
    prism = executable(tmp_path / "prism") if found else tmp_path / "missing"
    assert with_project_prism(args, streaming, environ={"PRISM_LOCATION": str(prism)}) == args


def test_a_file_that_is_not_executable_is_not_prism(tmp_path):
    (tmp_path / "prism").write_text("")
    assert project_prism({"PRISM_LOCATION": str(tmp_path / "prism")}) is None
