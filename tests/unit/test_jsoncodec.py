"""JSON on the hot paths: orjson where it can, the standard library for what orjson refuses."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from beam_api_pipeline.core import jsoncodec


def test_documents_orjson_refuses_are_read_by_the_standard_library():
    document = jsoncodec.loads(b'{"big": 123456789012345678901234567890, "nan": NaN, "text": "\\u00e9"}')
    assert document["big"] == 123456789012345678901234567890 and math.isnan(document["nan"])
    assert document["text"] == "é"
    assert jsoncodec.loads("[1, 2]".encode("utf-16")) == [1, 2]


def test_half_a_surrogate_pair_is_read_as_the_replacement_character_and_a_whole_pair_as_its_character():
    document = jsoncodec.loads(b'{"t\\ud800": ["x\\ud83d", "\\ud83d\\ude00", "\\ude00y"], "n": NaN}')
    assert set(document) == {"t\ufffd", "n"}
    assert document["t\ufffd"] == ["x\ufffd", "\U0001f600", "\ufffdy"]
    assert jsoncodec.encode(document["t\ufffd"]) == '["x\ufffd","\U0001f600","\ufffdy"]'.encode()


def test_text_that_is_not_json_is_a_value_error():
    with pytest.raises(ValueError, match="Expecting value: line 1 column 1"):
        jsoncodec.loads(b"<html>busy</html>")


def test_lines_are_compact_keep_non_ascii_and_write_what_json_cannot_hold_as_text():
    assert jsoncodec.dumps({"a": "é", "b": [1, None], 3: True}) == '{"a":"é","b":[1,null],"3":true}'
    assert jsoncodec.dumps({"big": 2**70, "at": object}) == '{"big":1180591620717411303424,"at":"<class \'object\'>"}'


def test_canonical_json_is_the_same_for_equal_values():
    assert jsoncodec.canonical({"b": 1, "a": {"d": 2, "c": 1}}) == jsoncodec.canonical({"a": {"c": 1, "d": 2}, "b": 1})
    assert jsoncodec.canonical(2**70) == b"1180591620717411303424"


@pytest.mark.parametrize("big", [None, 2**70], ids=["orjson", "standard_library"])
def test_both_encoders_write_the_same_text(big):
    row = {"nan": math.nan, "inf": -math.inf, "at": datetime(2024, 1, 2, 3, 4, tzinfo=UTC), "k": {1: "one"}}
    written = jsoncodec.loads(jsoncodec.dumps({**row, "big": big}))
    assert written == {"nan": None, "inf": None, "at": "2024-01-02T03:04:00+00:00", "k": {"1": "one"}, "big": big}
