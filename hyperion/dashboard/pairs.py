"""Figures of two parameters (a contour and a rank plot of the two most important numeric ones) and of
several studies (their best so far on one figure), from the same study views as every other figure."""

from __future__ import annotations

from typing import Any

import numpy as np

from hyperion.dashboard.figures import _empty, _layout, _numeric, _text, _thinned, _whole, importance_scores, searched


def pair(study: dict[str, Any], view: dict[str, Any]) -> tuple[tuple[str, str], list[dict[str, Any]]] | None:
    """The two numeric parameters to draw against each other (the two most important; ties: space
    order) and the feasible completed trials that have both; None with several objectives or fewer than
    two numeric parameters."""
    if len(study["metrics"]) > 1:
        return None
    trials = [t for t in view["trials"] if t["value"] is not None and t["feasible"]]
    numeric = [n for n in searched(study, trials) if _numeric(study["space"][n])]
    if len(numeric) < 2:
        return None
    scores = importance_scores(study, trials)
    ranked = sorted(numeric, key=lambda n: -scores.get(n, -1.0))
    names = (ranked[0], ranked[1])
    return names, [t for t in trials if all(isinstance(t["params"].get(n), (int, float)) for n in names)]


def _pair_axes(study: dict[str, Any], names: tuple[str, str], trials: list[dict[str, Any]]) -> tuple[Any, ...]:
    """The two parameters' values (log10 where the parameter is log) and their axis settings."""
    out = []
    for name in names:
        log = bool(study["space"][name].get("log"))
        values = np.array([float(t["params"][name]) for t in trials])
        out.append(
            (
                np.log10(values) if log else values,
                {"title": {"text": _text(name)}, "automargin": True, **({"type": "log"} if log else {})},
                log,
            )
        )
    return tuple(out)


def contour(study: dict[str, Any], view: dict[str, Any]) -> dict[str, Any] | None:
    """The objective over the two most important numeric parameters: a contour of the completed trials'
    values (inverse-distance weighted on a 40 x 40 grid, log axes where the parameter is log), the trials
    themselves as points."""
    if (chosen := pair(study, view)) is None:
        return None
    names, trials = chosen
    metric = study["metrics"][0]
    title = f"Contour of {metric} over {names[0]} and {names[1]}{_thinned(view['stride'])}"
    if len(trials) < 3:
        return _empty(title, "fewer than 3 completed trials with both parameters")
    (xs, xaxis, xlog), (ys, yaxis, ylog) = _pair_axes(study, names, trials)
    zs = np.array([float(t["value"]) for t in trials])
    gx = np.linspace(xs.min(), xs.max(), 40) if xs.max() > xs.min() else np.array([xs.min()])
    gy = np.linspace(ys.min(), ys.max(), 40) if ys.max() > ys.min() else np.array([ys.min()])
    sx, sy = max(np.ptp(xs), 1e-12), max(np.ptp(ys), 1e-12)  # distances in units of each axis's span
    dx = (gx[None, :, None] - xs[None, None, :]) / sx
    dy = (gy[:, None, None] - ys[None, None, :]) / sy
    weights = 1.0 / np.maximum(dx**2 + dy**2, 1e-12)
    grid = (weights * zs).sum(axis=2) / weights.sum(axis=2)
    axis_x = (10**gx).tolist() if xlog else gx.tolist()
    axis_y = (10**gy).tolist() if ylog else gy.tolist()
    reverse = study["modes"][0] == "min"
    data = [
        {
            "type": "contour",
            "x": axis_x,
            "y": axis_y,
            "z": grid.tolist(),
            "colorscale": "Viridis",
            "reversescale": reverse,
            "colorbar": {"title": {"text": _text(metric)}},
            "name": _text(metric),
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "completed",
            "x": [t["params"][names[0]] for t in trials],
            "y": [t["params"][names[1]] for t in trials],
            "text": [f"trial {t['number']}: {t['value']:.6g}" for t in trials],
            "marker": {"color": "white", "line": {"color": "black", "width": 1}, "size": 7},
            "hoverinfo": "text",
        },
    ]
    return {"data": data, "layout": _layout(title, xaxis=xaxis, yaxis=yaxis, showlegend=False)}


def rank(study: dict[str, Any], view: dict[str, Any]) -> dict[str, Any] | None:
    """The completed trials over the two most important numeric parameters, coloured by their rank
    (0 the best, 1 the worst): where the good region is, whatever the scale of the objective."""
    if (chosen := pair(study, view)) is None:
        return None
    names, trials = chosen
    title = f"Rank over {names[0]} and {names[1]}{_thinned(view['stride'])}"
    if len(trials) < 2:
        return _empty(title, "fewer than 2 completed trials with both parameters")
    (_, xaxis, _), (_, yaxis, _) = _pair_axes(study, names, trials)
    sign = -1.0 if study["modes"][0] == "max" else 1.0
    order = np.argsort(np.argsort([sign * t["value"] for t in trials], kind="stable"), kind="stable")
    ranks = (order / max(1, len(trials) - 1)).tolist()
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "completed",
            "x": [t["params"][names[0]] for t in trials],
            "y": [t["params"][names[1]] for t in trials],
            "text": [f"trial {t['number']}: {t['value']:.6g} (rank {r:.2f})" for t, r in zip(trials, ranks)],
            "hoverinfo": "text",
            "marker": {
                "color": ranks,
                "colorscale": "Viridis",
                "reversescale": True,
                "cmin": 0,
                "cmax": 1,
                "size": 9,
                "colorbar": {"title": {"text": "rank (0 best)"}},
            },
        },
    ]
    return {"data": data, "layout": _layout(title, xaxis=xaxis, yaxis=yaxis, showlegend=False)}


#: The most studies one comparison draws.
MAX_COMPARED = 10


def comparison(studies: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Several studies' best so far against the trial number, one line each (their study and history
    views): which search got there sooner. Studies of another goal than the first are left out, said in
    the title."""
    if not studies:
        return _empty("Best so far", "no study chosen")
    first = studies[0][0]
    goal = (first["metrics"], first["modes"])
    kept = [(s, h) for s, h in studies if (s["metrics"], s["modes"]) == goal and len(s["metrics"]) == 1]
    left = len(studies) - len(kept)
    title = f"Best so far: {first['modes'][0]} {first['metrics'][0]}" + (
        f" ({left} other stud{'y' if left == 1 else 'ies'} of another goal left out)" if left else ""
    )
    if not kept:
        return _empty(title, "several objectives have no single best so far")
    data = []
    for study, view in kept:
        best = view["best"]
        last = max((p["number"] for p in view["points"]), default=0)
        xs = [b["number"] for b in best] + ([last] if best else [])
        ys = [b["value"] for b in best] + ([best[-1]["value"]] if best else [])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "line": {"shape": "hv"},
                "name": _text(study["name"]),
                "x": xs,
                "y": ys,
            }
        )
    layout = _layout(
        title,
        xaxis={"title": {"text": "trial"}, **_whole([0, 1])},
        yaxis={"title": {"text": _text(first["metrics"][0])}},
    )
    return {"data": data, "layout": layout}
