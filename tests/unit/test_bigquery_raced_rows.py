"""Which rows a streaming insert refused raced their table's patch (pure)."""

from beam_api_pipeline.outputs.bigquery_evolve import raced_the_patch


def test_only_rows_refused_for_unknown_fields_alone_raced_the_patch():
    unknown = {"reason": "invalid", "location": "c", "message": "no such field: c."}
    bad_value = {"reason": "invalid", "location": "id", "message": "Cannot convert value to integer"}
    stopped = {"reason": "stopped", "location": "", "message": ""}
    assert raced_the_patch([unknown]) is True
    assert raced_the_patch([unknown, dict(unknown, location="d", message="no such field: d.")]) is True
    assert raced_the_patch([unknown, bad_value]) is False
    assert raced_the_patch([stopped]) is False
    assert raced_the_patch([]) is False
