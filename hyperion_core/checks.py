"""Checks of the numbers users pass (to tune() and to plugins), each failing with a ConfigurationError
that names the argument, the accepted range and the value given."""

from __future__ import annotations

import math
import operator
from typing import Any

from hyperion_core.errors import ConfigurationError

#: The longest time limit accepted, in seconds (a year): a larger one is a mistake, and beyond ~9e9
#: the waits of the standard library overflow.
MAX_SECONDS = 365 * 24 * 3600.0


def number(value: Any) -> int | float | None:
    """`value` as a plain Python int or float, whatever form a framework handed it out in: numpy scalars
    (float32, int64, ...), 0-d arrays, and any object with `__index__` or `__float__` (a 0-d tensor,
    Decimal, Fraction). None for what is not one number: a bool (True is not a learning rate), numpy's
    bool and complex, strings, arrays of several elements. This is the one conversion every path that
    reads a number from a user goes through."""
    kind = type(value)
    if kind is float or kind is int:
        return value  # type: ignore[no-any-return]
    if isinstance(value, (bool, str, bytes)):
        return None
    if isinstance(value, float):  # numpy.float64 and other subclasses
        return float(value)
    if isinstance(value, int):
        return int(value)
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        if getattr(value, "ndim", 0) != 0:
            return None  # an array of numbers is not a number
        code = getattr(dtype, "kind", None)  # numpy: i/u integers, f floats, b bool, c complex, ...
        if isinstance(code, str):
            return int(value) if code in "iu" else float(value) if code == "f" else None
        if "bool" in str(dtype) or "complex" in str(dtype):  # torch.bool, torch.complex64
            return None
    if hasattr(kind, "__index__"):
        try:
            return operator.index(value)
        except Exception:
            pass  # a float tensor has __index__ and refuses it: it is a float
    if hasattr(kind, "__float__"):
        try:
            return float(value)
        except Exception:
            return None
    return None


def plain(value: Any) -> Any:
    """A number-like `value` as a Python number (see number()); anything else unchanged."""
    kind = type(value)
    if kind is float or kind is int or kind is str:
        return value
    converted = number(value)
    return value if converted is None else converted


def plain_values(values: dict[str, Any]) -> dict[str, Any]:
    """A dict of metrics with its number-like values made Python numbers (the same dict when all are)."""
    for value in values.values():
        kind = type(value)
        if kind is not float and kind is not int and kind is not str:
            return {key: plain(value) for key, value in values.items()}
    return values


def as_float(value: Any) -> float | None:
    """`value` as a float (NaN and infinities kept; an int too large for a float, such as 10**400, is
    an infinity of its sign instead of an OverflowError), or None when it is not a number."""
    converted = number(value)
    if converted is None:
        return None
    try:
        return float(converted)
    except OverflowError:
        return math.inf if converted > 0 else -math.inf


def finite(value: Any) -> float | None:
    """`value` as a finite float, or None: not a number, NaN, infinite, or too large for a float."""
    result = as_float(value)
    return result if result is not None and math.isfinite(result) else None


def is_number(value: Any) -> bool:
    """A number in any form number() takes, bool excepted."""
    return number(value) is not None


def whole_number(label: str, value: Any, low: int = 0, high: int | None = None, *, optional: bool = False) -> Any:
    """`value` if it is an integer in [low, high]; None passes when `optional`."""
    if value is None and optional:
        return None
    given, value = value, plain(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"from {low} to {high:,}"
        extra = " (or None)" if optional else ""
        raise ConfigurationError(f"{label} must be a whole number {bounds}{extra}, got {given!r}")
    return value


def seconds(label: str, value: Any, *, optional: bool = True, allow_zero: bool = False) -> Any:
    """`value` if it is a finite number of seconds > 0 (>= 0 with allow_zero) and at most a year."""
    if value is None and optional:
        return None
    given, value = value, finite(value)
    ok = value is not None and (value >= 0 if allow_zero else value > 0)
    if not ok or value > MAX_SECONDS:
        low = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(
            f"{label} must be a finite number of seconds {low} and at most {MAX_SECONDS:,.0f} (a year), got {given!r}"
        )
    return value


def fraction(label: str, value: Any, low: float = 0.0, high: float = 1.0) -> Any:
    """`value` if it is a finite number in [low, high]."""
    given, value = value, finite(value)
    if value is None or not low <= value <= high:
        raise ConfigurationError(f"{label} must be a number from {low:g} to {high:g}, got {given!r}")
    return value
