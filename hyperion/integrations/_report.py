"""What the callbacks share: turn a framework's metrics into numbers a report can hold."""

from __future__ import annotations

import math
from typing import Any


def numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics that are finite-or-not numbers (tensors and numpy scalars included), as floats."""
    out = {}
    for name, value in metrics.items():
        try:
            number = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError):
            continue
        if not isinstance(value, bool) and (math.isfinite(number) or math.isnan(number)):
            out[str(name)] = number
    return out
