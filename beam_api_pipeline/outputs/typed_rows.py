"""JSON rows as the typed values of columnar files (pure functions): digits as text in an INTEGER column become an
integer, a TIMESTAMP a datetime in UTC, a JSON column JSON text; a value its column does not take is an error
naming it, never dropped."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from beam_api_pipeline.core import jsoncodec
from beam_api_pipeline.core.timeformat import parse_timestamp
from beam_api_pipeline.schemas.bigquery_schema import value_problem
from beam_api_pipeline.schemas.infer import Fields

#: (precision, scale) of the decimal types: the digits a value may have, and how many of them after the point.
DECIMALS = {"NUMERIC": (38, 9), "BIGNUMERIC": (76, 38)}
_DECIMAL_CONTEXT = Context(prec=100)


class ValueMismatch(ValueError):
    """A row value its column's type does not take (`path: expected a TIMESTAMP, got 'soon'`)."""


def _boolean(value: Any) -> bool:
    return value if isinstance(value, bool) else value.lower() == "true"


def _integer(value: Any) -> int:
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("out of the INTEGER range")
    return number


def _decimal(kind: str) -> Callable[[Any], Decimal]:
    """Reads a value of the decimal type `kind`: refused (never rounded) when it has more digits than it holds."""
    precision, scale = DECIMALS[kind]

    def read(value: Any) -> Decimal:
        number = Decimal(str(value))
        exact = number.is_finite() and number == number.quantize(Decimal(1).scaleb(-scale), context=_DECIMAL_CONTEXT)
        if not exact or number.copy_abs() >= _DECIMAL_CONTEXT.power(10, precision - scale):
            raise ValueError(f"does not fit {kind}")
        return number

    return read


def _time(value: Any) -> time:
    moment = time.fromisoformat(str(value))
    if moment.tzinfo is not None:
        raise ValueError("a TIME has no zone")
    return moment


def _datetime(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


#: How a value that `value_problem` lets through becomes its column's Python value, per BigQuery type.
_CONVERT: dict[str, Callable[[Any], Any]] = {
    "STRING": str,
    "BYTES": lambda value: base64.b64decode(value, validate=True),
    "INTEGER": _integer,
    "FLOAT": float,
    "NUMERIC": _decimal("NUMERIC"),
    "BIGNUMERIC": _decimal("BIGNUMERIC"),
    "BOOLEAN": _boolean,
    "DATE": lambda value: date.fromisoformat(str(value)),
    "TIME": _time,
    "DATETIME": _datetime,
    "GEOGRAPHY": str,
    "INTERVAL": str,
    "RANGE": str,
}


def typed_row(row: Any, fields: Fields, time_formats: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    """`row` (a dict) with each value as its column in `fields` holds it; a TIMESTAMP column at a dotted path in
    `time_formats` is read in that format (`watermark.time_format`), others as ISO 8601 or epoch seconds. A null,
    an empty list or an empty object in a column the schema lacks is left out; any other value there, or one its
    column does not take, raises ValueMismatch."""
    if not isinstance(row, dict):
        raise ValueMismatch(f"{prefix.rstrip('.') or 'row'}: expected an object, got {type(row).__name__}")
    known = {field["name"]: field for field in fields}
    for name, value in row.items():
        if name not in known and value not in (None, [], {}):
            raise ValueMismatch(f"{prefix}{name}: not in the schema, got {value!r}")
    return {
        field["name"]: _column(row.get(field["name"]), field, time_formats, f"{prefix}{field['name']}")
        for field in fields
    }


def _column(value: Any, field: dict[str, Any], time_formats: Mapping[str, str], path: str) -> Any:
    if value is None:
        if field["mode"] == "REQUIRED":
            raise ValueMismatch(f"{path}: required, missing")
        return None
    if field["mode"] != "REPEATED":
        return _item(value, field, time_formats, path)
    if not isinstance(value, list):
        raise ValueMismatch(f"{path}: expected a list (REPEATED), got {value!r}")
    return [_item(item, field, time_formats, path) for item in value]


def _item(value: Any, field: dict[str, Any], time_formats: Mapping[str, str], path: str) -> Any:
    kind = field["type"]
    if kind == "JSON":
        return jsoncodec.dumps(value)
    problem = value_problem(value, kind)
    if problem:
        raise ValueMismatch(f"{path}: {problem}, got {value!r}")
    if kind == "RECORD":
        return typed_row(value, field["fields"], time_formats, f"{path}.")
    try:
        if kind == "TIMESTAMP":
            return parse_timestamp(value, time_formats.get(path, "iso8601"))
        return _CONVERT[kind](value)
    except (ValueError, TypeError, InvalidOperation, binascii.Error):
        article = "an" if kind[0] in "AEIOU" else "a"
        raise ValueMismatch(f"{path}: expected {article} {kind}, got {value!r}") from None
