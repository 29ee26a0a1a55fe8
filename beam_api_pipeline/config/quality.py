"""``api_config.endpoints.<name>.quality``: data quality checks on an endpoint's rows, after the transform."""

import re
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from .base import StrictModel, rule_error
from .fields import PositiveDuration, TimeFormat

QualityCheckName = Literal["not_null", "accepted_values", "range", "regex", "unique", "row_count", "freshness"]
QualityAction = Literal["warn", "drop_row", "fail_window"]

#: Checks of one row at a time.
RECORD_CHECKS = ("not_null", "accepted_values", "range", "regex")
#: Checks that name a row field (freshness may: it defaults to the column the watermark's `timestamp_field` becomes
#: after the transform).
FIELD_CHECKS = (*RECORD_CHECKS, "unique")
#: The actions each check allows: a count per window or the age of a run has no row to drop.
ACTIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(FIELD_CHECKS, ("warn", "drop_row", "fail_window")),
    "row_count": ("warn", "fail_window"),
    "freshness": ("warn", "fail_window"),
}
#: Checks that judge a window's rows together: a window with no rows (one answered 304 Not Modified) fails them.
WINDOW_CHECKS = ("row_count", "freshness")
#: The keys each check uses besides `check`, `field` and `action`.
_SETTINGS: dict[str, tuple[str, ...]] = {
    "not_null": (),
    "accepted_values": ("values",),
    "range": ("min", "max"),
    "regex": ("pattern",),
    "unique": (),
    "row_count": ("min", "max"),
    "freshness": ("max_age", "time_format"),
}
#: The optional keys of one check or another.
_OPTIONAL = ("values", "min", "max", "pattern", "max_age", "time_format")


class QualityCheckConfig(StrictModel):
    """One check (``check``) of ``field``, and what a failure does (``action``, default ``warn``): ``warn`` counts
    and reports it, ``drop_row`` sends the row to the dead letter instead of the outputs, ``fail_window`` fails the
    row's window (see docs/configuration.md, *Data quality checks*)."""

    check: QualityCheckName
    field: str | None = None
    action: QualityAction = "warn"
    values: list[Any] | None = Field(None, min_length=1)
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    max_age: PositiveDuration | None = None
    #: freshness: how `field` is written (default: the watermark's `time_format`).
    time_format: TimeFormat | None = None

    @model_validator(mode="after")
    def _settings_fit_the_check(self) -> Self:
        check = self.check
        if check in FIELD_CHECKS and not self.field:
            raise rule_error(f"required for {check}", "field")
        if check == "row_count" and self.field is not None:
            raise rule_error("not used by row_count (it counts a window's rows)", "field")
        if self.action not in ACTIONS[check]:
            raise rule_error(f"{check} allows: {', '.join(ACTIONS[check])}", "action")
        used = _SETTINGS[check]
        stray = [key for key in _OPTIONAL if key not in used]
        stray = [key for key in stray if getattr(self, key) is not None]
        if stray:
            raise rule_error(f"not used by {check}", *stray)
        if check in ("accepted_values", "regex", "freshness"):
            missing = [key for key in used if key != "time_format" and getattr(self, key) is None]
            if missing:
                raise rule_error(f"required for {check}", *missing)
        if check in ("range", "row_count") and self.min is None and self.max is None:
            raise rule_error(f"{check} needs min, max or both", "min", "max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise rule_error("must be <= max", "min")
        if check == "row_count" and self.min is not None and self.min < 0:
            raise rule_error("must be >= 0", "min")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise rule_error(f"not a valid regular expression: {error}", "pattern") from None
        return self
