"""`validate` gives the verdict `run` gives, for every problem found before the graph is built: both exit 2 with
the same lines, each naming the file and the key, and `run` records nothing."""

from __future__ import annotations

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.control.store import open_store
from beam_api_pipeline.extractors import RestExtractor, registry
from beam_api_pipeline.gcp.clients import BIGQUERY_HOST_VARIABLE, STORAGE_HOST_VARIABLE
from beam_api_pipeline.run.factory import PipelineFactory


def bigquery(**settings) -> list[dict]:
    """An `output` list of one BigQuery output to raw.items with `settings`."""
    return [{"type": "bigquery", "config": {"project": "p", "dataset_id": "raw", "table_id": "items", **settings}}]


def verdicts(path, capsys, *beam_args: str) -> tuple[tuple[int, list[str]], tuple[int, list[str]]]:
    """(exit code, stderr lines) of `validate`, then of `run`, with the same Beam options."""
    validated = main(["validate", "--config", str(path), *beam_args])
    validate_err = capsys.readouterr().err.splitlines()
    ran = main(["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z", *beam_args])
    return (validated, validate_err), (ran, capsys.readouterr().err.splitlines())


PROBLEMS = [
    pytest.param(
        {"api_config": {"pagination": {"total_path": None}, "parallel_config": {"type": "known_pages"}}},
        "api_config.pagination.total_path: required when parallel_config.type is known_pages",
        id="range-paging",
    ),
    pytest.param(
        {"extractor_class": "jira"},
        "extractor_class: 'jira' is not known; expected one of rest, graphql, github, weather, or package.module:Class",
        id="extractor-name",
    ),
    pytest.param(
        {"extractor_class": "no_such_module:Extractor"},
        "extractor_class: cannot load 'no_such_module:Extractor': No module named 'no_such_module'",
        id="extractor-import",
    ),
    pytest.param(
        {"output": bigquery(write_disposition="truncate", method="streaming_inserts")},
        "output.0: output (bigquery raw.items).config.write_disposition: truncate needs method file_loads",
        id="bigquery-truncate",
    ),
    pytest.param(
        {"output": bigquery(schema="auto", method="storage_write_api")},
        "output.0: output (bigquery raw.items).config.schema: auto (schema detection) needs method file_loads",
        id="bigquery-auto-schema",
    ),
    pytest.param(
        {"output": bigquery(schema=[{"name": "id", "type": "INTEGER"}, {"name": "title", "type": "STRNG"}])},
        "output.0: output (bigquery raw.items).config.schema.1.type: 'STRNG' is not a BigQuery type",
        id="bigquery-schema",
    ),
    pytest.param(
        {"output": [{"type": "bigquery", "config": {"dataset_id": "raw", "table_id": "items"}}]},
        "output.0: output bigquery: no project; set config.project or the --project pipeline option",
        id="bigquery-project",
    ),
]


@pytest.mark.parametrize(("changes", "problem"), PROBLEMS)
def test_validate_and_run_refuse_a_problem_with_the_same_line(write_config, capsys, monkeypatch, changes, problem):
    for variable in (BIGQUERY_HOST_VARIABLE, STORAGE_HOST_VARIABLE):
        monkeypatch.delenv(variable, raising=False)  # an emulator would lend BigQuery a project
    path, config = write_config(**changes)

    validated, ran = verdicts(path, capsys)

    assert validated == ran == (2, [f"{path}: {problem}"])
    assert open_store(config.watermark_store).list_runs("sample_items") == []  # nothing was recorded


def test_a_schema_file_that_cannot_be_read_is_refused_by_both(write_config, tmp_path, capsys):
    schema = tmp_path / "schemas" / "items.json"
    path, _ = write_config(output=bigquery(schema=str(schema)))
    validated, ran = verdicts(path, capsys)
    assert (
        validated
        == ran
        == (
            2,
            [
                f"{path}: output.0: output (bigquery raw.items).config.schema: cannot read the JSON schema file "
                f"{schema}: [Errno 2] No such file or directory: '{schema}'"
            ],
        )
    )


def test_every_problem_is_a_line_and_runner_settings_name_the_option(write_config, capsys):
    path, _ = write_config(
        extractor_class="jira", output=bigquery(write_disposition="truncate", method="streaming_inserts")
    )
    validated, ran = verdicts(path, capsys, "--experiments=data_buffer_time_limit_ms=1000")
    assert (
        validated
        == ran
        == (
            2,
            [
                "--experiments=data_buffer_time_limit_ms=1000: refused: SDK workers would flush data from a timer "
                "thread, which can cut an element in two and lose records silently (docs/beam-time-flush-bug.md)",
                f"{path}: extractor_class: 'jira' is not known; expected one of rest, graphql, github, weather, "
                "or package.module:Class",
                f"{path}: output.0: output (bigquery raw.items).config.write_disposition: truncate needs method "
                "file_loads",
            ],
        )
    )


def test_a_registered_extractor_is_named_once_among_the_known(write_config, capsys, monkeypatch):
    monkeypatch.setattr(registry, "REGISTERED_EXTRACTORS", {})  # restored after the test
    PipelineFactory.register_extractor("rest", RestExtractor)
    PipelineFactory.register_extractor("jira_cloud", RestExtractor)
    path, _ = write_config(extractor_class="jira")
    validated, ran = verdicts(path, capsys)
    assert (
        validated
        == ran
        == (
            2,
            [
                f"{path}: extractor_class: 'jira' is not known; expected one of rest, graphql, github, weather, "
                "jira_cloud, or package.module:Class"
            ],
        )
    )


def test_a_config_store_names_each_pipeline_with_its_problem(write_config, tmp_path, capsys):
    path, _ = write_config(extractor_class="jira")
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "items.yaml").write_text(path.read_text())
    assert main(["validate", "--config_dir", str(folder)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{folder} (sample_items): extractor_class: 'jira' is not known; expected one of rest, graphql, github, "
        "weather, or package.module:Class"
    ]


def test_a_good_config_validates_and_runs(write_config, capsys):
    path, config = write_config()
    assert main(["validate", "--config", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{path}: valid (pipeline sample_items, endpoints: items)"]
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z"]) == 0
    (run,) = open_store(config.watermark_store).list_runs("sample_items")
    assert (run.status, run.windows_done, run.records_processed) == ("succeeded", 1, 48)
