"""Parsed JSON to typed records: dataclasses field by field (a missing field takes its default, or None where its
type allows it: a field older writers did not have; unknown fields are ignored), containers item by item, enums
by value. ``harness.records.io`` reads results with it; errors name the field's path."""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from typing import Any


class FieldError(Exception):
    """A value that is not what its record field says: the message names the field's path."""


def from_json(kind: Any, value: Any, where: str) -> Any:
    """``value`` (parsed JSON) as ``kind``: dataclasses field by field (missing fields take their defaults,
    unknown ones are ignored), containers item by item. Errors name the field's path."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        last: FieldError | None = None
        for option in options:
            if option is type(None):
                continue
            try:
                return from_json(option, value, where)
            except FieldError as error:
                last = error
        raise last or FieldError(f"{where or 'record'}: unexpected null")
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise FieldError(f"{where or 'record'}: expected an object, got {type(value).__name__}")
        hints = _hints(kind)
        arguments = {}
        for spec in dataclasses.fields(kind):
            path = f"{where}.{spec.name}" if where else spec.name
            if spec.name in value:
                arguments[spec.name] = from_json(hints[spec.name], value[spec.name], path)
            elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                if not _optional(hints[spec.name]):
                    raise FieldError(f"missing field {path!r}")
                arguments[spec.name] = None  # a field older writers did not have
        return kind(**arguments)
    if origin is dict:
        key_kind, value_kind = typing.get_args(kind)
        if not isinstance(value, dict):
            raise FieldError(f"{where}: expected an object, got {type(value).__name__}")
        return {str(k): from_json(value_kind, v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        (item_kind,) = typing.get_args(kind)
        if not isinstance(value, list):
            raise FieldError(f"{where}: expected a list, got {type(value).__name__}")
        return [from_json(item_kind, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is float:
        if value is None:
            return math.nan  # NaN is written as null
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is str:
        if isinstance(value, str):
            return value
    elif isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            raise FieldError(f"{where}: unknown value {value!r}") from None
    elif kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is object:
        return value
    raise FieldError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}"[:300])


def _optional(kind: Any) -> bool:
    return typing.get_origin(kind) in (types.UnionType, typing.Union) and type(None) in typing.get_args(kind)


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)
