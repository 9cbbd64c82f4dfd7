"""The typed request model, generated from the model's data contract (schema.json).

Every raw input column becomes a field with its type, range and allowed values, so OpenAPI shows
them and pydantic rejects, with the field named: a wrong type (strict: no "1" for 1, no true for
1), a missing required field, NaN/inf, a value outside the contract and an unknown field.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from mmp.data.schema import InputSchema, SchemaColumn

INT64 = (-(2**63), 2**63 - 1)
# pandas (and so the sklearn path) holds datetimes as int64 nanoseconds
DATE_RANGE = (datetime(1677, 9, 22), datetime(2262, 4, 11))
MAX_TEXT = 10_000  # characters of one free-text value
# The widest JSON text of a value of each kind, as json.dumps writes it: the longest repr of a
# double, the longest ISO 8601 date-time this model accepts (quoted), true/false, null.
WIDEST = {"float": len(repr(-2.2250738585072014e-308)), "datetime": len('"2024-01-31T12:00:00.000000+00:00"'), "bool": 5}
NULL = len("null")


def _to_datetime(value: Any) -> Any:
    """ISO 8601 date or date-time text (or a datetime object) to a naive UTC datetime. Numbers are
    refused: an epoch number for a date is a type error, not a guess."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date or date-time, e.g. 2024-01-31 or 2024-01-31T12:00:00") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        if not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
            raise ValueError(f"must be between {DATE_RANGE[0]:%Y-%m-%d} and {DATE_RANGE[1]:%Y-%m-%d}")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_to_datetime), Field(json_schema_extra={"format": "date-time"})]


def field_type(col: SchemaColumn) -> Any:
    """The pydantic type of one contract column."""
    if col.allowed:
        return Literal[tuple(col.allowed)]
    kind = col.dtype
    if kind == "int":
        low, high = _bounds(col, INT64)
        return Annotated[int, Field(strict=True, ge=low, le=high)]
    if kind == "float":
        low, high = _bounds(col, (None, None))
        return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low, le=high)]
    if kind == "bool":
        return Annotated[bool, Field(strict=True)]
    if kind == "datetime":
        return IsoDateTime
    return Annotated[str, Field(strict=True, max_length=MAX_TEXT)]


def widest_value(col: SchemaColumn) -> int:
    """The bytes of the widest JSON value ``field_type(col)`` accepts (json.dumps' output: ASCII,
    non-ASCII text escaped as \\uXXXX)."""
    if col.allowed:
        width = max(len(json.dumps(value)) for value in col.allowed)
    elif col.dtype == "int":
        width = max(len(str(bound)) for bound in _bounds(col, INT64))
    elif col.dtype in WIDEST:
        width = WIDEST[col.dtype]
    else:
        width = len('""') + MAX_TEXT * len("\\uffff")
    return max(width, NULL)


def body_bytes(schema: InputSchema, records: int) -> int:
    """The body ``records`` records at their widest need: every column present, each value at its
    widest, written with json.dumps' default separators (", " and ": "). The server's body limit
    is derived from this, so ``max_records`` records always fit."""
    record = len("{}") + sum(len(json.dumps(col.name)) + len(": ") + widest_value(col) + len(", ") for col in schema.columns)
    return len("[]") + records * (record + len(", "))


def _bounds(col: SchemaColumn, default: tuple[Any, Any]) -> tuple[Any, Any]:
    low = col.min if col.min is not None else default[0]
    high = col.max if col.max is not None else default[1]
    if col.dtype == "int":
        low, high = max(int(low), INT64[0]), min(int(high), INT64[1])
    return low, high


def required_features(schema: InputSchema) -> list[str]:
    return [c.name for c in schema.features if not c.nullable]


def record_model(schema: InputSchema, entity_key: str | None = None, name: str = "Record") -> type[BaseModel]:
    """One input record. Non-nullable features are required unless an online store can supply
    them (then the entity key is the one required field); nullable ones default to null; id and
    time columns are optional and ignored by the model."""
    example = schema.example
    fields: dict[str, Any] = {}
    for col in schema.columns:
        kind = field_type(col)
        required = col.name == entity_key or (entity_key is None and col.role == "feature" and not col.nullable)
        description = f"{col.dtype} {col.role}" + ("" if col.nullable else ", not null")
        info = Field(... if required else None, description=description, examples=[example[col.name]] if col.name in example else None)
        fields[col.name] = (kind if required else kind | None, info)
    config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, title=name)
    return create_model(name, __config__=config, **fields)
