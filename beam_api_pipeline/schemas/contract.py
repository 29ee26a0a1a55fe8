"""Schema contracts (`schema_contract` of an endpoint): how a row that does not fit the endpoint's schema is
handled. Pure: `HeldSchema.differences` finds what does not fit, `apply_contract` decides.

- `evolve`: a new field is welcome (the schema gains a column), a REQUIRED field that arrives empty passes (the
  sink decides); a value of an incompatible type sends the row to the dead letter.
- `freeze`: any difference fails the row's window.
- `discard_row`: a row with any difference goes to the dead letter.
- `discard_value`: new fields and values of another type are left out of the row (counted); a REQUIRED field
  that arrives empty sends the row to the dead letter (there is no value to leave out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from beam_api_pipeline.config.api import SchemaContract
from beam_api_pipeline.schemas.bigquery_schema import value_problem
from beam_api_pipeline.schemas.infer import Fields, json_type

DifferenceKind = Literal["new_field", "type_change", "required_missing"]
CONTRACT_ERROR_TYPE = "SchemaContract"
#: At most this many characters of a value in a reason.
_VALUE_CHARS = 80


@dataclass(frozen=True)
class Difference:
    """One way a row does not fit a schema, at a dotted `path`."""

    kind: DifferenceKind
    path: str
    expected: str = ""
    seen: str = ""
    value: Any = None

    def __str__(self) -> str:
        if self.kind == "new_field":
            return f"{self.path}: new field ({self.seen})"
        if self.kind == "required_missing":
            return f"{self.path}: required, missing"
        return f"{self.path}: expected {self.expected}, seen {self.seen} ({_shortened(repr(self.value))})"


def _shortened(text: str) -> str:
    """`text`, cut to _VALUE_CHARS characters: a reason goes into every dead-letter row it names."""
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


@dataclass(frozen=True)
class ContractOutcome:
    """What the contract does with a row that differs: the row to write (None: it is not written), and why not."""

    row: Any
    reason: str | None = None
    values_discarded: int = 0


#: Per column type, the Python types of values BigQuery takes as they are (`bigquery_schema.value_problem` finds
#: no problem with them): the fast path of `HeldSchema.differences`.
_TEXT_LIKE = frozenset({str, int, float})
_FITTING_TYPES = {
    "INTEGER": frozenset({int}),
    "FLOAT": frozenset({int, float}),
    "NUMERIC": frozenset({int, float}),
    "BIGNUMERIC": frozenset({int, float}),
    "BOOLEAN": frozenset({bool}),
    **dict.fromkeys(("STRING", "TIMESTAMP", "DATE", "TIME", "DATETIME", "BYTES", "GEOGRAPHY"), _TEXT_LIKE),
}
#: How many row shapes a HeldSchema remembers.
_SHAPES_KEPT = 1024
#: Column types that take any JSON value (`value_problem` checks nothing of them).
_ANY_VALUE = frozenset({str, int, float, bool, dict, list})


@dataclass(frozen=True)
class _Column:
    field: dict[str, Any]
    fitting: frozenset[type]  # the Python types of values that fit as they are
    inner: HeldSchema | None  # a RECORD's fields


class HeldSchema:
    """Fields indexed by name (RECORD fields too), to hold many rows to them."""

    def __init__(self, fields: Fields):
        self._columns = {field["name"]: _column(field) for field in fields}
        self._required = [field["name"] for field in fields if field["mode"] == "REQUIRED"]
        self._shapes: dict[tuple[tuple[str, ...], tuple[type, ...]], bool] = {}

    def fits_by_shape(self, row: dict[str, Any]) -> bool:
        """Whether `row` fits for its shape alone (its keys, and the Python types of its values), remembered
        per shape: most rows of an API share a few. False means: look at its values (`differences`)."""
        shape = (tuple(row), tuple(map(type, row.values())))
        fits = self._shapes.get(shape)
        if fits is None:
            fits = self._shape_fits(*shape)
            if len(self._shapes) < _SHAPES_KEPT:
                self._shapes[shape] = fits
        return fits

    def _shape_fits(self, names: tuple[str, ...], types: tuple[type, ...]) -> bool:
        present = {name for name, python_type in zip(names, types, strict=True) if python_type is not type(None)}
        if any(name not in present for name in self._required):
            return False
        columns = self._columns
        return all(
            name in columns and (python_type in columns[name].fitting or python_type is type(None))
            for name, python_type in zip(names, types, strict=True)
        )

    def differences(self, row: dict[str, Any], prefix: str = "") -> list[Difference]:
        """Each way `row` does not fit the fields, in the row's order then the schema's. A null value (or an
        empty list) fits any field but a REQUIRED one; a value fits a column when BigQuery takes it as it is
        (`bigquery_schema.value_problem`)."""
        found: list[Difference] = []
        for name, value in row.items():
            column = self._columns.get(name)
            if (column is not None and type(value) in column.fitting) or value is None or value == []:
                continue
            path = f"{prefix}{name}"
            if column is None:
                found.append(Difference("new_field", path, seen=_seen(value)))
            else:
                found.extend(_column_differences(column, value, path))
        for name in self._required:
            if row.get(name) is None:
                found.append(Difference("required_missing", f"{prefix}{name}"))
        return found


def _column(field: dict[str, Any]) -> _Column:
    kind, repeated = field["type"], field["mode"] == "REPEATED"
    inner = HeldSchema(field["fields"]) if kind == "RECORD" else None
    if repeated or inner is not None:
        return _Column(field, frozenset(), inner)
    return _Column(field, _FITTING_TYPES.get(kind, _ANY_VALUE), None)


def _column_differences(column: _Column, value: Any, path: str) -> list[Difference]:
    """How a value that is not null, and not of a type that fits as it is, differs from `column`."""
    field = column.field
    if (field["mode"] == "REPEATED") != isinstance(value, list):
        expected = f"{field['type']} REPEATED" if field["mode"] == "REPEATED" else field["type"]
        return [Difference("type_change", path, expected, _seen(value), value)]
    found = []
    for item in value if isinstance(value, list) else (value,):
        if column.inner is not None and isinstance(item, dict):
            found.extend(column.inner.differences(item, f"{path}."))
        elif item is not None and value_problem(item, field["type"]) is not None:
            found.append(Difference("type_change", path, field["type"], _seen(item), item))
    return found


def _seen(value: Any) -> str:
    return "REPEATED" if isinstance(value, list) else json_type(value)


def _without(row: dict[str, Any], path: str, remove: bool) -> dict[str, Any]:
    """A copy of `row` with the value at dotted `path` removed (`remove`) or set to null; `row` is untouched."""
    head, _, rest = path.partition(".")
    copy = dict(row)
    inner = copy.get(head)
    if rest and isinstance(inner, dict):
        copy[head] = _without(inner, rest, remove)
    elif rest and isinstance(inner, list):
        copy[head] = [_without(item, rest, remove) if isinstance(item, dict) else item for item in inner]
    elif remove:
        copy.pop(head, None)
    else:
        copy[head] = None
    return copy


def apply_contract(contract: SchemaContract, schema: HeldSchema, row: Any) -> ContractOutcome | None:
    """The ContractOutcome of `row` under `contract` against `schema`; None when the row is written as it is
    (most rows: nothing is made for them). A row that is not an object is left to the sinks, which say why they
    refuse it."""
    if not isinstance(row, dict) or schema.fits_by_shape(row):
        return None
    found = schema.differences(row)
    if contract == "evolve":
        found = [difference for difference in found if difference.kind == "type_change"]
    if not found:
        return None
    reason = f"schema_contract {contract}: " + "; ".join(map(str, found))
    discardable = all(difference.kind != "required_missing" for difference in found)
    if contract != "discard_value" or not discardable:
        return ContractOutcome(None, reason)
    for difference in found:
        row = _without(row, difference.path, remove=difference.kind == "new_field")
    return ContractOutcome(row, values_discarded=len(found))
