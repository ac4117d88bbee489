"""The study's figures as plain Plotly figure dicts ({"data": [...], "layout": {...}}), built from the
study views (hyperion_core.protocols.StudyViews); two-parameter and several-study figures in pairs.py.
The dashboard sends these dicts to Plotly.js as they are; `hyperion.plot` wraps them in
`plotly.graph_objects.Figure`. No Plotly import here: building a dict is cheap and needs nothing.
Every user string that reaches a figure (parameter values, rationales, kill reasons) goes through
`_text`, which escapes it: Plotly reads a small HTML subset in labels, and user text is data.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np

COLORS = {"completed": "#1f77b4", "killed": "#ff7f0e", "failed": "#d62728", "infeasible": "#7f7f7f"}
MAX_PARAMS = 24  # slices and parallel coordinates show at most this many parameters
FEW_TRIALS = 30  # below this many completed trials the importance figure says it is not to be trusted


def _text(value: Any, limit: int = 300) -> str:
    """A label for Plotly, which reads a few HTML tags in labels: <, > and & escaped, so user text is
    never a tag; quotes left as they are (Plotly would show &quot; literally)."""
    s = str(value)
    if len(s) > limit:
        s = s[:limit] + "..."
    return html.escape(s, quote=False)


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    """A figure's layout; every axis grows the margin to fit its labels (long names are never clipped)."""
    for key, axis in extra.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            axis.setdefault("automargin", True)
    return {"title": {"text": _text(title)}, "margin": {"l": 60, "r": 20, "t": 50, "b": 50}, **extra}


def _whole(values: list[Any]) -> dict[str, Any]:
    """Axis settings for whole numbers (trials, steps, folds): a tick per number over a short range, so
    Plotly never labels 0.5 (over a long one its own ticks are whole anyway)."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {"dtick": 1} if numbers and max(numbers) - min(numbers) <= 20 else {}


def _empty(title: str, why: str) -> dict[str, Any]:
    layout = _layout(title)
    layout["annotations"] = [
        {"text": _text(why), "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
    ]
    layout["xaxis"] = layout["yaxis"] = {"visible": False}
    return {"data": [], "layout": layout}


def _thinned(stride: int) -> str:
    return f" (every {stride}th trial)" if stride > 1 else ""


def _numeric(description: dict[str, Any]) -> bool:
    return description.get("type") in ("Float", "Int")


def searched(study: dict[str, Any], trials: list[dict[str, Any]]) -> list[str]:
    """The parameters worth plotting: searched (not fixed), present in the sample, at most MAX_PARAMS."""
    seen = {k for t in trials for k in t["params"]}
    names = [k for k, d in study["space"].items() if isinstance(d, dict) and d.get("type") != "Fixed" and k in seen]
    return names[:MAX_PARAMS]


def history(study: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    metric = study["metrics"][0]
    title = f"Optimisation history: {metric} ({study['modes'][0]}){_thinned(view['stride'])}"
    # Every trial is drawn, one legend entry per state (click one to hide it): a stopped trial at its last
    # reported value, a trial without any value (failed, running) along the worst edge, marked x.
    groups: dict[str, tuple[list[int], list[float | None]]] = {}
    for p in view["points"]:
        value = p["value"] if p["value"] is not None else p.get("reported")
        kind = "infeasible" if p["state"] == "completed" and not p["feasible"] else p["state"]
        if kind == "killed" and value is not None and p["value"] is None:
            kind = "killed (last report)"
        xs, ys = groups.setdefault(kind, ([], []))
        xs.append(p["number"])
        ys.append(value)
    known = [y for _, ys in groups.values() for y in ys if y is not None]
    if not known:
        return _empty(title, "no finished trial has a value yet")
    worst = min(known) if study["modes"][0] == "max" else max(known)
    data: list[dict[str, Any]] = []
    for kind, (xs, ys) in sorted(groups.items()):
        valueless = all(y is None for y in ys)
        data.append(
            {
                "type": "scattergl" if len(xs) > 2_000 else "scatter",
                "mode": "markers",
                "name": f"{kind} (no value)" if valueless else kind,
                "x": xs,
                "y": [worst] * len(ys) if valueless else ys,
                "marker": {
                    "color": COLORS.get(kind.split(" ")[0], "#9467bd"),
                    "size": 6,
                    "symbol": "x" if valueless else "circle-open" if kind.startswith("killed") else "circle",
                },
            }
        )
    if view["best"]:
        last = max(p["number"] for p in view["points"])
        xs = [b["number"] for b in view["best"]] + [last]
        ys = [b["value"] for b in view["best"]] + [view["best"][-1]["value"]]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "best so far",
                "x": xs,
                "y": ys,
                "line": {"shape": "hv", "color": "#2ca02c"},
            }
        )
    return {
        "data": data,
        "layout": _layout(
            title,
            xaxis={"title": {"text": "trial"}, **_whole([p["number"] for p in view["points"]])},
            yaxis={"title": {"text": _text(metric)}},
        ),
    }


def _axis_values(description: dict[str, Any], values: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Values for an axis, and the axis settings: log axes for log parameters, categories as text."""
    if _numeric(description):
        if description.get("log"):
            return values, {"type": "log"}
        return values, _whole(values) if description.get("type") == "Int" else {}
    return [_text(v) for v in values], {"type": "category"}


def slices(study: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    trials = view["trials"]
    metric = study["metrics"][0]
    title = f"Parameter slices: {metric} against each parameter{_thinned(view['stride'])}"
    names = searched(study, trials)
    if not names:
        return _empty(title, "no completed trial yet")
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    data = []
    layout = _layout(
        title,
        grid={"rows": rows, "columns": columns, "pattern": "independent"},
        showlegend=False,
        height=max(350, 260 * rows),
    )
    for i, name in enumerate(names, start=1):
        have = [t for t in trials if name in t["params"] and t["value"] is not None]
        xs, axis = _axis_values(study["space"][name], [t["params"][name] for t in have])
        suffix = "" if i == 1 else str(i)
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": _text(name),
                "x": xs,
                "y": [t["value"] for t in have],
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "text": [f"trial {t['number']}" for t in have],
                "marker": {"color": [t["number"] for t in have], "colorscale": "Blues", "size": 6},
            }
        )
        layout[f"xaxis{suffix}"] = {"title": {"text": _text(name)}, "automargin": True, **axis}
        layout[f"yaxis{suffix}"] = {
            "automargin": True,
            **({"title": {"text": _text(metric)}} if (i - 1) % columns == 0 else {}),
        }
    return {"data": data, "layout": layout}


def parallel_coordinates(study: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    trials = [t for t in view["trials"] if t["value"] is not None]
    metric = study["metrics"][0]
    title = f"Parallel coordinates{_thinned(view['stride'])}"
    # only parameters every plotted trial has (a conditional parameter shows in the slices instead)
    names = [n for n in searched(study, trials) if all(n in t["params"] for t in trials)]
    if not trials or not names:
        return _empty(title, "no completed trial yet")
    dimensions = []
    for name in names:
        description = study["space"][name]
        values = [t["params"][name] for t in trials]
        if _numeric(description):
            if description.get("log"):
                dimensions.append({"label": _text(f"log10 {name}"), "values": [math.log10(v) for v in values]})
            else:
                dimensions.append({"label": _text(name), "values": values})
        else:
            categories = sorted({str(v) for v in values})
            index = {c: i for i, c in enumerate(categories)}
            dimensions.append(
                {
                    "label": _text(name),
                    "values": [index[str(v)] for v in values],
                    "tickvals": list(range(len(categories))),
                    "ticktext": [c[:40] for c in categories],  # parcoords draws tick text as plain text
                }
            )
    ys = [t["value"] for t in trials]
    dimensions.append({"label": _text(metric), "values": ys})
    reverse = study["modes"][0] == "min"  # the better trials are drawn in the stronger colour
    line = {"color": ys, "colorscale": "Viridis", "reversescale": reverse, "showscale": True}
    return {"data": [{"type": "parcoords", "dimensions": dimensions, "line": line}], "layout": _layout(title)}


def importance_scores(study: dict[str, Any], trials: list[dict[str, Any]]) -> dict[str, float]:
    """Each parameter's share of the variation of the objective's ranks that it explains alone: epsilon
    squared of a one-way ANOVA, (SS_between - (k - 1) MS_within) / (SS_total + MS_within), which takes
    off what k groups would explain by chance (plain eta squared gives 1.0 to any parameter whose every
    trial has its own value); numeric parameters are cut into sqrt(n) quantile bins (2 to 10),
    categories grouped as they are. Ranks, not raw values, so one outlier does not decide. A first-order
    (main-effect) measure like fANOVA's individual importances; interactions are not counted. Needs at
    least 4 completed trials with the parameter."""
    out: dict[str, float] = {}
    for name in searched(study, trials):
        have = [t for t in trials if name in t["params"] and t["value"] is not None]
        if len(have) < 4:
            continue
        ranks = np.argsort(np.argsort([t["value"] for t in have])).astype(float)
        total = float(((ranks - ranks.mean()) ** 2).sum())
        if total == 0:
            continue
        raw = [t["params"][name] for t in have]
        bins = max(2, min(10, int(math.sqrt(len(have)))))
        if _numeric(study["space"][name]) and len(set(raw)) > bins:
            edges = np.quantile(np.asarray(raw, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
            groups = np.searchsorted(edges, np.asarray(raw, dtype=float), side="right")
        else:
            keys = {k: i for i, k in enumerate(sorted({str(v) for v in raw}))}
            groups = np.array([keys[str(v)] for v in raw])
        k = len(np.unique(groups))
        if len(have) - k < 1:
            continue  # as many groups as trials: nothing to tell from chance
        between = sum(
            float(np.sum(groups == g)) * float(ranks[groups == g].mean() - ranks.mean()) ** 2 for g in np.unique(groups)
        )
        within = (total - between) / (len(have) - k)
        out[name] = max(0.0, (between - (k - 1) * within) / (total + within))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def importance(study: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    title = "Parameter importance (epsilon squared of the objective's ranks, one parameter at a time)"
    scores = importance_scores(study, view["trials"])
    if not scores:
        return _empty(title, "needs at least 4 completed trials")
    if len(view["trials"]) < FEW_TRIALS:
        title += f": {len(view['trials'])} completed trials, too few to rank parameters reliably"
    names = list(scores)[::-1]  # most important on top
    bar = {
        "type": "bar",
        "orientation": "h",
        "x": [round(scores[n], 4) for n in names],
        "y": [_text(n) for n in names],
        "marker": {"color": "#1f77b4"},
    }
    layout = _layout(
        title,
        xaxis={"title": {"text": "share of variation explained"}, "range": [0, 1]},
        height=max(300, 40 + 28 * len(names)),
    )
    return {"data": [bar], "layout": layout}


def intermediate(study: dict[str, Any], view: dict[str, Any]) -> dict[str, Any] | None:
    """Reported values per step; None when no trial of the study reported anything."""
    if not view["trials_with_reports"]:
        return None
    metric = view["metric"]
    curves = [c for c in view["curves"] if c["steps"]]
    shown = f" ({len(curves)} of {view['trials_with_reports']} trials: the best completed and the latest stopped)"
    title = f"Intermediate values: {metric} per step" + (shown if view["trials_with_reports"] > len(curves) else "")
    if not curves:
        return _empty(title, f"no trial reported {metric!r} yet")
    data = []
    for c in sorted(curves, key=lambda c: c["number"]):
        killed = c["state"] == "killed"
        color = COLORS.get(c["state"], "#9467bd")
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"trial {c['number']}",
                "legendgroup": c["state"],
                "showlegend": False,
                "x": c["steps"],
                "y": c["values"],
                "line": {"color": color, "width": 1, "dash": "dot" if killed else "solid"},
                "hovertemplate": f"trial {c['number']} ({c['state']})<br>step %{{x}}: %{{y}}<extra></extra>",
            }
        )
    stopped = [c for c in curves if c["state"] == "killed"]
    if stopped:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "killed (at the step it stopped)",
                "x": [c["steps"][-1] for c in stopped],
                "y": [c["values"][-1] for c in stopped],
                "text": [_text(f"trial {c['number']}: {c['kill_reason'] or 'killed'}") for c in stopped],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"symbol": "x", "size": 9, "color": COLORS["killed"]},
            }
        )
    return {
        "data": data,
        "layout": _layout(
            title,
            xaxis={"title": {"text": "step"}, **_whole([s for c in curves for s in c["steps"]])},
            yaxis={"title": {"text": _text(metric)}},
        ),
    }


def lineage(study: dict[str, Any], nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tree of a beam or LLM-branching search: parent to child, leaves spread top to bottom, the
    best trial's path from its root in red; hover shows the rationale. None when there is no tree."""
    if not nodes:
        return None
    by_id = {n["trial_id"]: n for n in nodes}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for n in nodes:
        parent = n["parent_id"] if n["parent_id"] in by_id else None
        children.setdefault(parent, []).append(n)
    y: dict[str, float] = {}
    next_leaf = 0.0

    def place(node: dict[str, Any]) -> float:  # iterative would be longer; trees are at most a few deep
        nonlocal next_leaf
        kids = children.get(node["trial_id"], [])
        if not kids:
            y[node["trial_id"]] = next_leaf
            next_leaf += 1
        else:
            y[node["trial_id"]] = sum(place(k) for k in kids) / len(kids)
        return y[node["trial_id"]]

    for root in children.get(None, []):
        place(root)
    sign = -1 if study["modes"][0] == "max" else 1
    done = [n for n in nodes if n["state"] == "completed" and n["value"] is not None]
    path: set[str] = set()
    if done:
        best = min(done, key=lambda n: sign * n["value"])
        at: dict[str, Any] | None = best
        while at is not None and at["trial_id"] not in path:
            path.add(at["trial_id"])
            at = by_id.get(at["parent_id"] or "")
    edges: dict[bool, tuple[list[Any], list[Any]]] = {False: ([], []), True: ([], [])}
    for n in nodes:
        if n["parent_id"] in by_id:
            on_path = n["trial_id"] in path and n["parent_id"] in path
            xs, ys = edges[on_path]
            xs += [by_id[n["parent_id"]]["depth"], n["depth"], None]
            ys += [y[n["parent_id"]], y[n["trial_id"]], None]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": xs,
            "y": ys,
            "hoverinfo": "skip",
            "showlegend": on_path,
            "name": "best path" if on_path else "",
            "line": {"color": "#d62728" if on_path else "#bbbbbb", "width": 3 if on_path else 1},
        }
        for on_path, (xs, ys) in edges.items()
    ]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "trials",
            "x": [n["depth"] for n in nodes],
            "y": [y[n["trial_id"]] for n in nodes],
            "customdata": [n["number"] for n in nodes],
            "text": [
                _text(
                    f"{n['trial_id']} ({n['state']}, {study['metrics'][0]}={n['value']}) "
                    f"parent {n['parent_id'] or '-'}: {n['rationale'] or ''}",
                    400,
                )
                for n in nodes
            ],
            "hovertemplate": "%{text}<extra></extra>",
            "marker": {
                "size": 9,
                "color": [COLORS.get(n["state"], "#9467bd") for n in nodes],
                "line": {"color": ["#d62728" if n["trial_id"] in path else "#ffffff" for n in nodes], "width": 2},
            },
        }
    )
    layout = _layout(
        "Lineage: parent to child (best path in red; hover for the rationale)",
        xaxis={"title": {"text": "depth"}, "dtick": 1},
        yaxis={"visible": False},
        height=max(350, min(1200, 18 * int(next_leaf) + 120)),
    )
    return {"data": data, "layout": layout}


def pareto(study: dict[str, Any], view: dict[str, Any]) -> dict[str, Any] | None:
    """Several objectives: the first two against each other, the non-dominated feasible trials marked."""
    if len(study["metrics"]) < 2:
        return None
    from hyperion_core.goal import Goal
    from hyperion_core.pareto import front_indices

    m1, m2 = study["metrics"][:2]
    title = f"Pareto front: {m1} ({study['modes'][0]}) against {m2} ({study['modes'][1]}){_thinned(view['stride'])}"
    trials = [t for t in view["trials"] if t["values"] and len(t["values"]) >= 2]
    if not trials:
        return _empty(title, "no completed trial yet")
    feasible = [t for t in trials if t["feasible"]]
    front = set()
    if feasible:
        idx = front_indices(Goal.from_json(study).losses([t["values"] for t in feasible]))
        front = {feasible[i]["number"] for i in idx}
    data = []
    for label, keep, color in (
        ("trials", lambda t: t["number"] not in front and t["feasible"], COLORS["completed"]),
        ("infeasible", lambda t: not t["feasible"], COLORS["infeasible"]),
        ("Pareto front", lambda t: t["number"] in front, COLORS["failed"]),
    ):
        chosen = sorted((t for t in trials if keep(t)), key=lambda t: t["values"][0])
        if chosen:
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": label,
                    "x": [t["values"][0] for t in chosen],
                    "y": [t["values"][1] for t in chosen],
                    "text": [f"trial {t['number']}" for t in chosen],
                    "marker": {"color": color, "size": 7},
                }
            )
    return {
        "data": data,
        "layout": _layout(title, xaxis={"title": {"text": _text(m1)}}, yaxis={"title": {"text": _text(m2)}}),
    }
