"""A user's extractor, loaded by `extractor_class: "package.module:Class"`, and one registered on the factory,
both run end to end on DirectRunner against the sample API."""

from __future__ import annotations

import textwrap

from beam_api_pipeline.cli import main
from beam_api_pipeline.extractors import RestExtractor, registry
from beam_api_pipeline.run.factory import PipelineFactory
from tests.support import read_jsonl, t

USER_MODULE = '''
from beam_api_pipeline.extractors import BaseExtractor


class EvenItems(BaseExtractor):
    """Keeps the items with an even id, with their title upper-cased."""

    def _transform_item(self, item):
        if item["id"] % 2 == 0:
            yield {**item, "title": item["title"].upper()}
'''


def test_a_user_extractor_is_loaded_by_its_import_path(sample_api, write_config, tmp_path, monkeypatch):
    (tmp_path / "user_extractors.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    path, _ = write_config(extractor_class="user_extractors:EvenItems")
    assert main(["run", "--config", str(path), "--end_time", "2024-01-04T00:00:00Z"]) == 0

    rows = read_jsonl(tmp_path / "out")
    expected = [i for i in sample_api.dataset.ids_between(t("2024-01-02"), t("2024-01-04")) if i % 2 == 0]
    assert sorted(row["id"] for row in rows) == expected
    assert {row["title"] for row in rows} == {f"ITEM {i}" for i in expected}


class _TaggedRest(RestExtractor):
    def _transform_item(self, item):
        yield {**item, "tagged": True}


def test_a_registered_extractor_replaces_the_built_in_of_its_name(sample_api, write_config, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "REGISTERED_EXTRACTORS", {})  # restored after the test
    PipelineFactory.register_extractor("rest", _TaggedRest)
    path, _ = write_config()
    assert main(["run", "--config", str(path), "--end_time", "2024-01-03T00:00:00Z"]) == 0
    rows = read_jsonl(tmp_path / "out")
    assert len(rows) == 48 and all(row["tagged"] for row in rows)
