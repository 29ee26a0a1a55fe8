"""Window bounds in request values: the bounds a window sends, and templates that write both bounds into one
query parameter, JSON body field or GraphQL variable.

A template is a string value holding ``{window_start}`` or ``{window_end}``, optionally with a time format after a
colon: ``{window_start:%Y-%m-%d %H:%M:%S.%3fZ}``, ``{window_end:epoch_ms}``, ``{window_start:date}``. Without one,
the bound is written in ``watermark.time_format``. In a template, ``{{`` and ``}}`` stand for literal braces; any
other brace is an error. A value that is one placeholder and nothing else becomes the bound itself (a number for
``epoch`` and ``epoch_ms``); otherwise the text with each placeholder written in. Values without a window
placeholder are sent as they are.

Each placeholder receives the bound the API is sent: the window's ``fetch_start`` (one step of its format earlier
with ``start_inclusive: false``) and its ``end`` (one step earlier with ``end_inclusive: true``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from beam_api_pipeline.core.timeformat import MICROSECOND, NAMED_FORMATS, format_bound, resolution
from beam_api_pipeline.core.windowing import Window

BOUNDS = ("window_start", "window_end")


class BoundSettings(Protocol):
    """What a window's bounds are written by: ``api_config.watermark`` (the config validates templates with this
    module, so it is named by its fields here)."""

    time_format: str
    start_inclusive: bool
    end_inclusive: bool


_MARK = "{window_"
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True)
class Placeholder:
    """One ``{window_start[:format]}`` or ``{window_end[:format]}``; `time_format` None: ``watermark.time_format``."""

    bound: str
    time_format: str | None


@dataclass(frozen=True)
class Template:
    """A value's text cut into literal text and placeholders."""

    parts: tuple[str | Placeholder, ...]

    def placeholders(self) -> list[Placeholder]:
        return [part for part in self.parts if isinstance(part, Placeholder)]

    def grid(self, default_format: str) -> timedelta | None:
        """The coarsest step of its placeholders' formats, the finest grid every one of them can write (None
        without placeholders): each bound is written in its own format."""
        steps = [resolution(p.time_format or default_format) or MICROSECOND for p in self.placeholders()]
        return max(steps, default=None)


def is_template(value: Any) -> bool:
    """Whether `value` is a string holding a window placeholder (or something meant as one)."""
    return isinstance(value, str) and _MARK in value


@lru_cache(maxsize=256)
def parse_template(text: str) -> Template:
    """The template in `text`; a ValueError names an unknown placeholder, a format that writes no day, or a lone
    brace."""
    parts: list[str | Placeholder] = []
    position = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif match.group(1) is None:
            raise ValueError(
                f"a lone {token!r} at character {match.start() + 1}: write {token * 2} for a literal brace"
            )
        else:
            parts.append(_placeholder(match.group(1)))
    parts.append(text[position:])
    return Template(tuple(part for part in parts if part != ""))


def _placeholder(inner: str) -> Placeholder:
    name, colon, time_format = inner.partition(":")
    if name not in BOUNDS:
        raise ValueError(
            f"unknown placeholder {{{inner}}}: use {{window_start}} or {{window_end}}, each with an optional "
            f":format ({', '.join(NAMED_FORMATS)} or a strftime pattern)"
        )
    if colon and not time_format:
        raise ValueError(f"{{{inner}}}: the format after ':' is empty")
    if colon and resolution(time_format) is None:
        raise ValueError(f"{{{inner}}}: {time_format!r} {FORMAT_RULE}")
    return Placeholder(name, time_format or None)


#: What a time format must write (`timeformat.resolution` is None otherwise).
FORMAT_RULE = (
    f"writes no day: use one of {', '.join(NAMED_FORMATS)} or a strftime pattern with at least a day "
    "(%d, %j), and %H, %M, %S, %3f (ms) or %f (µs) for finer times"
)


def templates_in(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every template string inside `value` (a string, or dicts and lists of them) with its dotted path."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in templates_in(item, f"{path}.{key}".lstrip("."))]
    if isinstance(value, list):
        return [
            found for index, item in enumerate(value) for found in templates_in(item, f"{path}.{index}".lstrip("."))
        ]
    return [(path, value)] if is_template(value) else []


def sent_bound(window: Window, bound: str, time_format: str, watermark: BoundSettings) -> datetime:
    """The instant sent for `bound` of `window` in `time_format`: the window's ``fetch_start`` (one step of the
    format earlier when the API's start is exclusive, ``start_inclusive: false``) or its ``end`` (one step earlier
    when the API's end is inclusive, ``end_inclusive: true``)."""
    step = resolution(time_format) or MICROSECOND
    if bound == "window_start":
        return window.fetch_start if watermark.start_inclusive else window.fetch_start - step
    return window.end - step if watermark.end_inclusive else window.end


def render(value: Any, window: Window, watermark: BoundSettings) -> Any:
    """`value` with each template in it (`parse_template`) written for `window`; `watermark` is the
    ``api_config.watermark`` section (its ``time_format``, ``start_inclusive``, ``end_inclusive``)."""
    if isinstance(value, dict):
        return {key: render(item, window, watermark) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, window, watermark) for item in value]
    if not is_template(value):
        return value

    def write(part: str | Placeholder) -> str | int:
        if isinstance(part, str):
            return part
        time_format = part.time_format or watermark.time_format
        return format_bound(sent_bound(window, part.bound, time_format, watermark), time_format)

    parts = parse_template(value).parts
    if len(parts) == 1:
        return write(parts[0])
    return "".join(str(write(part)) for part in parts)
