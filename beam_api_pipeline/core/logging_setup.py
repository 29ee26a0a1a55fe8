"""Logging for the command line and the workers: human-readable or JSON for Cloud Logging, secrets masked."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

from beam_api_pipeline.core.redaction import MASK

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MIN_SECRET_LENGTH = 4

CONTEXT_FIELDS = ("pipeline_id", "run_id", "endpoint", "window")
_OURS = "_beam_api_pipeline_handler"  # marks the handler configure_logging added, so a second call replaces it
#: Loggers whose INFO lines show at the default level, WARNING: a local run's progress off a terminal, and the
#: runner a run chose for the user.
SHOWN_AT_INFO = ("beam_api_pipeline.run.progress", "beam_api_pipeline.core.runners")


def register_secrets(values) -> None:
    """Mask these values in every log line of this process from now on."""
    with _secrets_lock:
        _secrets.update(v for v in values if v and len(v) >= _MIN_SECRET_LENGTH)


def mask_secrets(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Renders each record's message with its arguments, then masks registered secrets in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = mask_secrets(record.getMessage())
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the fields Cloud Logging reads (`severity`, `message`, `time`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "logger": record.name,
        }
        entry.update({name: getattr(record, name) for name in CONTEXT_FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class _ContextFilter(logging.Filter):
    """Adds the run's context (pipeline_id, run_id) to every record that does not carry its own."""

    def __init__(self, context: dict[str, str]):
        super().__init__()
        self._context = context

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in self._context.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def configure_logging(level: str = "WARNING", log_format: str = "text", **context: str) -> None:
    """Set up the root logger: `text` (default) or `json`; secrets are masked in both. At `level` WARNING or
    below, the SHOWN_AT_INFO loggers show their INFO lines too."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    handler.addFilter(_ContextFilter(context))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _OURS, False):
            root.removeHandler(existing)
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    shown = root.getEffectiveLevel() <= logging.WARNING
    for name in SHOWN_AT_INFO:
        logging.getLogger(name).setLevel(min(root.level, logging.INFO) if shown else logging.NOTSET)
    # WriteToText warns about each empty sink (a run without dead letters has one); that is expected here.
    logging.getLogger("apache_beam.io.filebasedsink").setLevel(logging.ERROR)


def set_log_context(**context: str) -> None:
    """Replace the context fields added to every record (e.g. once the run id is known)."""
    for handler in logging.getLogger().handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, _ContextFilter):
                log_filter._context.update(context)
