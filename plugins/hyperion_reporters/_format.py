"""Small formatting helpers shared by the rich reporters and the CLI."""

from __future__ import annotations

from typing import Any


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def params(flat: dict[str, Any], limit: int = 60) -> str:
    """`k=v, ...` within about `limit` characters, cut only between whole items (never inside a value)."""
    items = [f"{k}={number(v)}" for k, v in flat.items()]
    shown: list[str] = []
    for item in items:
        if shown and len(", ".join([*shown, item])) > limit:
            break
        shown.append(item)
    left = len(items) - len(shown)
    return ", ".join(shown) + (f", ... ({left} more)" if left else "")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
