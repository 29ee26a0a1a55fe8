import io
import json
import logging

from beam_api_pipeline.core.logging_setup import configure_logging, register_secrets, set_log_context
from beam_api_pipeline.run import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_logs_carry_severity_context_and_no_secrets(capsys):
    configure_logging("INFO", "json", pipeline_id="p1")
    set_log_context(run_id="r1")
    register_secrets(["tok-123456", "xy"])
    logging.getLogger("beam_api_pipeline.test").warning(
        "sent %s to %s", "Bearer tok-123456", "xy", extra={"window": "w"}
    )
    try:
        raise ValueError("bad tok-123456")
    except ValueError:
        logging.getLogger("beam_api_pipeline.test").exception("failed")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert {k: first[k] for k in ("severity", "message", "pipeline_id", "run_id", "window")} == {
        "severity": "WARNING",
        "message": "sent Bearer *** to xy",
        "pipeline_id": "p1",
        "run_id": "r1",
        "window": "w",
    }
    assert second["severity"] == "ERROR" and "tok-123456" not in json.dumps(second)
    assert second["exception"].endswith("ValueError: bad ***")


def test_text_logs_mask_secrets_too(capsys):
    configure_logging("INFO", "text")
    register_secrets(["hunter22"])
    logging.getLogger("beam_api_pipeline.test").info("password=%s", "hunter22")
    assert capsys.readouterr().err.strip() == "INFO beam_api_pipeline.test: password=***"


def test_progress_updates_one_line_on_a_terminal():
    stream = Terminal()
    shown = progress.start(3, stream)
    progress.report(10, window_finished=False, failed=False)
    progress.report(5, window_finished=True, failed=False)
    progress.report(0, window_finished=True, failed=True)
    progress.stop()
    progress.report(99, window_finished=True, failed=False)  # no run in progress: ignored
    assert stream.getvalue() == (
        "\rwindows 0/3, 10 records\rwindows 1/3, 15 records\rwindows 2/3, 1 failed, 15 records\n"
    )
    assert shown.records == 15


def test_progress_logs_periodically_off_a_terminal(caplog):
    now = [0.0]
    caplog.set_level(logging.INFO, logger="beam_api_pipeline.run.progress")
    shown = progress.Progress(4, io.StringIO(), interval=10, clock=lambda: now[0])
    shown.add(7, True, False)
    now[0] = 11
    shown.add(3, True, False)
    shown.add(3, True, False)
    shown.add(1, True, False)
    assert [r.getMessage() for r in caplog.records] == [
        "progress: windows 2/4, 10 records",
        "progress: windows 4/4, 14 records",
    ]


def test_progress_is_logged_at_info_and_shown_at_the_default_level_only_down_to_warning(capsys):
    for level, shown in (("WARNING", True), ("INFO", True), ("ERROR", False)):
        configure_logging(level)
        progress.Progress(2, io.StringIO(), interval=0).add(5, True, False)
        logging.getLogger("beam_api_pipeline.run.prepare").info("not shown at WARNING")
        expected = ["INFO beam_api_pipeline.run.progress: progress: windows 1/2, 5 records"] if shown else []
        expected += ["INFO beam_api_pipeline.run.prepare: not shown at WARNING"] if level == "INFO" else []
        assert capsys.readouterr().err.splitlines() == expected, level
    configure_logging("WARNING")
