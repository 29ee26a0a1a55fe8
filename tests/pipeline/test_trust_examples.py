"""Every example config the project ships or documents passes `validate`: the local forms in templates/pipelines/
as they are, the Dataflow forms in templates/pipelines/dataflow/ on Dataflow, and each YAML example in docs/*.md
(a fragment inside a minimal pipeline, with the files and the module it names provided)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from beam_api_pipeline.cli import main
from beam_api_pipeline.config import PipelineConfig
from tests.support import merged, write_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "pipelines"
DATAFLOW = ["--runner=DataflowRunner", "--project=my-project"]


def runner_for(config: dict[str, Any]) -> list[str]:
    """The runner option a config needs: Prism for one that polls (FnApiRunner runs no streaming pipeline)."""
    return ["--runner=PrismRunner"] if config.get("streaming", {}).get("enabled") else []


def valid_line(path: Path) -> str:
    config = yaml.safe_load(path.read_text())
    endpoints = ", ".join(config["api_config"]["endpoints"])
    return f"{path}: valid (pipeline {config['pipeline_id']}, endpoints: {endpoints})"


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.yaml")), ids=lambda path: path.name)
def test_each_local_example_validates(path, capsys):
    assert main(["validate", "--config", str(path), *runner_for(yaml.safe_load(path.read_text()))]) == 0
    assert capsys.readouterr().out.splitlines() == [valid_line(path)]


@pytest.mark.parametrize("path", sorted((TEMPLATES / "dataflow").glob("*.yaml")), ids=lambda path: path.name)
def test_each_dataflow_example_validates_on_dataflow(path, capsys):
    assert main(["validate", "--config", str(path), *DATAFLOW]) == 0
    assert capsys.readouterr().out.splitlines() == [valid_line(path)]


def test_every_example_but_the_demos_has_a_dataflow_form_of_the_same_pipeline():
    local = {path.name: yaml.safe_load(path.read_text()) for path in TEMPLATES.glob("*.yaml")}
    dataflow = {path.name: yaml.safe_load(path.read_text()) for path in (TEMPLATES / "dataflow").glob("*.yaml")}
    assert (
        sorted(dataflow)
        == sorted(set(local) - {"demo.yaml", "demo_streaming.yaml"})
        == [
            "github_issues.yaml",
            "graphql_events.yaml",
            "weather.yaml",
        ]
    )
    for name, config in dataflow.items():
        assert (config["pipeline_id"], config["extractor_class"]) == (
            local[name]["pipeline_id"],
            local[name]["extractor_class"],
        )
        assert config["api_config"]["endpoints"] == local[name]["api_config"]["endpoints"]


#: A pipeline around a documented fragment: an endpoint with a primary key, page numbers with a total, and
#: watermarks on updated_at.
FRAGMENT_BASE: dict[str, Any] = {
    "pipeline_id": "docs_example",
    "api_config": {
        "base_url": "https://api.example.com",
        "endpoints": {"items": {"path": "/items", "records_path": "items", "primary_key": "id"}},
        "pagination": {"strategy": "page_number", "total_path": "total"},
        "watermark": {
            "enabled": True,
            "timestamp_field": "updated_at",
            "watermark_field": "since",
            "initial_watermark": "2024-01-01T00:00:00Z",
        },
    },
}
#: The user code and files the examples name (docs/extending.md, docs/outputs.md).
PROVIDED = {
    "my_company/__init__.py": "",
    "my_company/extractors.py": textwrap.dedent(
        """
        from beam_api_pipeline.extractors import BaseExtractor


        class TabularExtractor(BaseExtractor):
            pass
        """
    ),
    "schemas/issues.json": '[{"name": "id", "type": "INTEGER"}, {"name": "updated_at", "type": "TIMESTAMP"}]',
}


def doc_examples() -> list[Any]:
    examples = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        text = doc.read_text()
        for match in re.finditer(r"```ya?ml\n(.*?)```", text, re.S):
            line = text[: match.start()].count("\n") + 1
            examples.append(pytest.param(yaml.safe_load(match.group(1)), id=f"{doc.name}:{line}"))
    return examples


def as_pipeline(example: Any) -> dict[str, Any]:
    """A whole config: the example itself, or the fragment (`output` entries, top-level sections such as
    `api_config` or `alerts`, sections of `api_config`) inside FRAGMENT_BASE."""
    if isinstance(example, list):
        return {**FRAGMENT_BASE, "output": example}
    if "pipeline_id" in example:
        return example
    top_level = set(example) <= set(PipelineConfig.model_fields)
    return merged(FRAGMENT_BASE, example if top_level else {"api_config": example})


@pytest.mark.parametrize("example", doc_examples())
def test_each_documented_example_validates(example, tmp_path, monkeypatch, capsys):
    for name, content in PROVIDED.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    config = as_pipeline(example)
    path = write_yaml(tmp_path / "example.yaml", config)
    assert main(["validate", "--config", str(path), *runner_for(config)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.splitlines() == [valid_line(path)]
