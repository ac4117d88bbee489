"""The timeline figure: trials over wall time, one row per worker (where the slots ran, where they sat idle)."""

from __future__ import annotations

from typing import Any

from hyperion.dashboard.figures import COLORS, _empty, _layout


def timeline(study: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Trials over wall time, one row per worker: where the slots ran and where they sat idle. A bar is
    a trial from its start to its end (a running one: to the latest time seen), coloured by state."""
    title = "Timeline: trials over wall time, per worker"
    timed = [r for r in rows if isinstance(r.get("started"), (int, float))]
    if not timed:
        return _empty(title, "no trial has started yet")
    t0 = min(r["started"] for r in timed)
    now = max(max(r["started"], r["finished"] or 0) for r in timed)
    workers: dict[Any, str] = {}
    for r in timed:
        workers.setdefault(r["worker"], f"worker {len(workers) + 1}" if r["worker"] else "this run")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in timed:
        groups.setdefault(r["state"], []).append(r)
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": state,
            "base": [r["started"] - t0 for r in group],
            "x": [max((r["finished"] or now) - r["started"], 1e-3) for r in group],
            "y": [workers[r["worker"]] for r in group],
            "customdata": [r["number"] for r in group],
            "hovertemplate": "trial %{customdata}: %{base:.1f}s to %{x:.1f}s later<extra></extra>",
            "marker": {"color": COLORS.get(state, "#9467bd")},
        }
        for state, group in sorted(groups.items())
    ]
    layout = _layout(
        title,
        barmode="overlay",
        xaxis={"title": {"text": "seconds since the first trial started"}},
        yaxis={"title": {"text": "worker"}, "type": "category"},
        height=max(250, 80 + 30 * len(workers)),
    )
    return {"data": data, "layout": layout}
