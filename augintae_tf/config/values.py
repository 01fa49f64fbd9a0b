"""A config value as its field's type: from YAML (numbers, lists, mappings) or from a command line
(``"5"``, ``"null"``, ``"0.35,0.7"``), every refusal one ConfigError naming the field.

The field's type is the dataclass's own annotation (``int``, ``float | None``, ``list[str]``...),
resolved with :func:`typing.get_type_hints`; :func:`check_int` is also every integer CLI option's
check. TensorFlow-free.
"""
from __future__ import annotations

import functools
import types
import typing
from typing import Any

from augintae_tf.errors import ConfigError

INT_MAX = 2 ** 31 - 1  # every integer option and field fits TensorFlow's int32 (sizes, counts)
SEED_RANGE = (0, INT_MAX)  # seeds: non-negative, as NumPy's generators require
# Integer config fields checked against their range as they are read (the others: at most
# INT_MAX here, their lower bounds in validate()).
INT_RANGES = {"train.seed": SEED_RANGE, "data.shuffle_buffer": (1, INT_MAX)}
_NULLS = ("none", "null", "")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def check_int(value: Any, low: int | None = None, high: int | None = INT_MAX) -> int:
    """The one integer check of every CLI option (:class:`augintae_tf.cli.options.Int`) and
    every integer config field (``--set``, a YAML file): ``value`` (an int, or a string of
    one) as an int in ``[low, high]``, else a ValueError saying why in a phrase (the caller
    names the option or field)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not an integer")
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{value!r} is not an integer") from None
    high = INT_MAX if high is None else high
    if not (low is None or low <= number) or not number <= high:
        digits = str(number)
        shown = digits if len(digits) <= 24 else f"{digits[:12]}... ({len(digits)} digits)"
        wanted = f"an integer <= {high}" if low is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{shown} is out of range; expected {wanted}")
    return number


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """``{field: type}`` of a config dataclass, its string annotations resolved."""
    return typing.get_type_hints(cls)


def type_name(kind: Any) -> str:
    """``int``, ``int | None``, ``list[float]``: the annotation as written."""
    return kind.__name__ if isinstance(kind, type) else str(kind)


def _optional(kind: Any) -> tuple[Any, bool]:
    """(the type without ``None``, whether ``None`` is allowed)."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(kind))
    return kind, False


def _listed(value: Any) -> list:
    """A list from a list, or from a command line's ``"a,b"`` / ``"[a, b]"``."""
    if isinstance(value, str):
        value = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ValueError
    return list(value)


def _convert(key: str, value: Any, kind: Any) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is bool:
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        if not isinstance(value, bool):
            raise ValueError
        return value
    if kind is int:
        try:
            return check_int(value, *INT_RANGES.get(key, (None, INT_MAX)))
        except ValueError as exc:
            if "out of range" not in str(exc):
                raise
            raise ConfigError(f"{key}: {exc}") from None
    if kind is float:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    if kind is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError
        return str(value)
    if origin is list:
        return [args[0](v) for v in _listed(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError
        return {str(k): [float(x) for x in v] for k, v in value.items()}
    return value


def coerce(key: str, value: Any, kind: Any) -> Any:
    """``value`` as type ``kind`` (a field's annotation) for config key ``key``, or a ConfigError."""
    base, optional = _optional(kind)
    if value is None or (optional and isinstance(value, str) and value.lower() in _NULLS):
        if optional:
            return None
        raise ConfigError(f"{key}: null is not allowed; expected {type_name(kind)}")
    try:
        return _convert(key, value, base)
    except ConfigError:  # already names the field and the range (a ValueError too)
        raise
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {value!r} is not a valid {type_name(base)}") from None
