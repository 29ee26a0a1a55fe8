"""The element checks (`--check_elements`, on in the runner matrix) fail a run whose steps break Beam's rules:
a step that changes what it was given, a value that Beam would have to pickle."""

from __future__ import annotations

import pytest

from beam_api_pipeline.outputs.files import LocalOutput
from beam_api_pipeline.run.factory import PipelineFactory
from sample_api import SampleApi
from tests.runners.mutating_output import MutatingLocalOutput
from tests.runners.runs import run_pipeline
from tests.support import items_config

IN_MEMORY = ["--direct_num_workers=1", "--direct_running_mode=in_memory"]


@pytest.fixture
def api():
    with SampleApi() as sample_api:
        yield sample_api


@pytest.fixture
def mutating_sink():
    PipelineFactory.register_output("local", MutatingLocalOutput)
    yield
    PipelineFactory.register_output("local", LocalOutput)


def test_a_sink_that_changes_the_rows_it_was_given_fails_the_checked_run(api, tmp_path, mutating_sink, capsys):
    outcome = run_pipeline(items_config(api.url, tmp_path), tmp_path, "--end_time", "2024-01-03", "--check_elements")
    assert outcome.exit_code == 1
    # The rows a sink is given are the de-duplicated batches themselves (no transform is set): the first check
    # that sees them changed is the one after KeepNewest.
    assert "ElementCheckError: newest: an element changed after it was emitted: (('items'," in capsys.readouterr().err
    assert outcome.watermarks == {"items": None}


def test_unchecked_the_same_run_passes_silently(api, tmp_path, mutating_sink):
    outcome = run_pipeline(items_config(api.url, tmp_path), tmp_path, "--end_time", "2024-01-03", *IN_MEMORY)
    assert outcome.exit_code == 0 and all(row["stamped"] for row in outcome.rows)


def test_a_record_value_that_beam_would_pickle_fails_the_checked_run(api, tmp_path, capsys):
    config = items_config(api.url, tmp_path, extractor_class="tests.runners.dated_extractor:DatedExtractor")
    outcome = run_pipeline(config, tmp_path, "--end_time", "2024-01-03", "--check_elements", *IN_MEMORY)
    assert outcome.exit_code == 1
    assert "ElementCheckError: records: an element holds a datetime.datetime: (('items'," in capsys.readouterr().err
