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
    text = ", ".join(f"{k}={number(v)}" for k, v in flat.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
