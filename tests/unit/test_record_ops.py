from beam_api_pipeline.config import TransformConfig
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.records.record_ops import apply_transform, rename_fields, select_fields

RECORD = {"id": 7, "title": "t", "user": {"login": "ann", "id": 3}, "labels": [{"name": "bug"}]}


def test_select_keeps_nesting_and_skips_missing_paths():
    assert select_fields(RECORD, ["id", "user.login", "nope.x"]) == {"id": 7, "user": {"login": "ann"}}


def test_rename_keeps_field_order():
    assert list(rename_fields({"a": 1, "b": 2}, {"a": "z"})) == ["z", "b"]


def test_transform_applies_select_rename_then_metadata():
    transform = TransformConfig(select=["id", "title"], rename={"title": "name"}, add_metadata=True)
    assert apply_transform(RECORD, transform, {"_run_id": "r"}) == {"id": 7, "name": "t", "_run_id": "r"}


def test_paths_reach_into_lists_from_either_end():
    assert get_path(RECORD, "labels.0.name") == "bug"
    assert get_path(RECORD, "labels.-1.name") == "bug"
    assert get_path(RECORD, "labels.5.name", default="none") == "none"
    assert get_path(RECORD, "") is RECORD
