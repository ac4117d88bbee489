"""Checks of the numbers users pass (to tune() and to plugins), each failing with a ConfigurationError
that names the argument, the accepted range and the value given."""

from __future__ import annotations

import math
from typing import Any

from hyperion_core.errors import ConfigurationError

#: The longest time limit accepted, in seconds (a year): a larger one is a mistake, and beyond ~9e9
#: the waits of the standard library overflow.
MAX_SECONDS = 365 * 24 * 3600.0


def is_number(value: Any) -> bool:
    """An int or float that is not a bool (True is not a learning rate)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def whole_number(label: str, value: Any, low: int = 0, high: int | None = None, *, optional: bool = False) -> Any:
    """`value` if it is an integer in [low, high]; None passes when `optional`."""
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"from {low} to {high:,}"
        extra = " (or None)" if optional else ""
        raise ConfigurationError(f"{label} must be a whole number {bounds}{extra}, got {value!r}")
    return value


def seconds(label: str, value: Any, *, optional: bool = True, allow_zero: bool = False) -> Any:
    """`value` if it is a finite number of seconds > 0 (>= 0 with allow_zero) and at most a year."""
    if value is None and optional:
        return None
    ok = is_number(value) and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok or value > MAX_SECONDS:
        low = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(
            f"{label} must be a finite number of seconds {low} and at most {MAX_SECONDS:,.0f} (a year), got {value!r}"
        )
    return value


def fraction(label: str, value: Any, low: float = 0.0, high: float = 1.0) -> Any:
    """`value` if it is a finite number in [low, high]."""
    if not is_number(value) or not math.isfinite(value) or not low <= value <= high:
        raise ConfigurationError(f"{label} must be a number from {low:g} to {high:g}, got {value!r}")
    return value
