"""Where the figures' data come from: any storage with the StudyViews contract (the SQL one answers in
SQL, others through hyperion_core.views.ComputedViews) or a tune() result in memory (computed views
over its trials), so the dashboard, the report and `hyperion.plot` build every figure one way.
"""

from __future__ import annotations

from typing import Any

from hyperion.dashboard import figures, pairs
from hyperion.dashboard.timeline import timeline
from hyperion_core.errors import ConfigurationError, StorageError
from hyperion_core.goal import Goal
from hyperion_core.models import Checkpoint, Report, Trial, TrialState
from hyperion_core.protocols import StudyViews
from hyperion_core.text import redact_url
from hyperion_core.views import ComputedViews, best_so_far

Source = StudyViews


def open_storage(url: str | None) -> Any:
    """The storage at `url`, checked to be one the dashboard can read (SQLite or PostgreSQL)."""
    from hyperion.cli.studies import storage_url_problem
    from hyperion_core.plugins import registry

    if (problem := storage_url_problem(url)) is not None:
        raise (StorageError if problem.startswith("no database") else ConfigurationError)(problem)
    storage = registry().storage(url or "", read_only=True)
    if not isinstance(storage, StudyViews):
        storage.close()
        raise ConfigurationError(
            f"storage {redact_url(url)} has no study views; a storage plugin gets them by inheriting "
            "hyperion_core.views.ComputedViews (see docs/plugins.md)"
        )
    return storage


def study_figures(
    source: Source, name: str, study: dict[str, Any] | None = None, keep: set[int] | None = None
) -> dict[str, Any]:
    """Every figure of a study page, by name (a figure that does not apply, e.g. lineage without a
    tree, is left out). `keep`: only these trials (a filter of the page: every figure shows the same ones)."""
    study = study or source.study_view(name)
    sample = _only(source.sample_view(name), "trials", keep)
    history = source.history_view(name)
    if keep is not None:
        points = [p for p in history["points"] if p["number"] in keep]
        done = ((p["number"], p["value"]) for p in points if p["state"] == "completed" and p["feasible"])
        history = {**history, "points": points, "best": best_so_far(Goal.from_json(study), done)}
    out: dict[str, Any] = {"history": figures.history(study, history)}
    if (front := figures.pareto(study, sample)) is not None:
        out["pareto"] = front
    out["importance"] = figures.importance(study, sample)
    out["slices"] = figures.slices(study, sample)
    for key, build in (("contour", pairs.contour), ("rank", pairs.rank)):
        if (figure := build(study, sample)) is not None:
            out[key] = figure
    out["parallel_coordinates"] = figures.parallel_coordinates(study, sample)
    curves = _only(source.curves_view(name, study["metrics"][0]), "curves", keep)
    if (drawn := figures.intermediate(study, curves)) is not None:
        out["intermediate"] = drawn
    nodes = source.lineage_view(name)
    if (
        tree := figures.lineage(study, nodes if keep is None else [n for n in nodes if n["number"] in keep])
    ) is not None:
        out["lineage"] = tree
    bars = source.timeline_view(name)
    out["timeline"] = timeline(study, bars if keep is None else [b for b in bars if b["number"] in keep])
    return out


def _only(view: dict[str, Any], key: str, keep: set[int] | None) -> dict[str, Any]:
    return view if keep is None else {**view, key: [row for row in view[key] if row["number"] in keep]}


class ResultSource(ComputedViews):
    """A tune() result (or Study.result()) read as a storage of one study: the computed views serve it.
    The result has no per-step reports, so the intermediate-values figure needs the storage: pass a
    storage URL instead."""

    def __init__(self, result: dict[str, Any]) -> None:
        if not isinstance(result, dict) or "study" not in result or "trials" not in result:
            raise ConfigurationError("expected a tune() result (the dict tune() returns) or a storage URL")
        from hyperion_core.space import flatten

        study = result["study"]
        self.url = "a tune() result"
        self.name = study["name"]
        self.goal = Goal.of(study["metric"], study["mode"])
        self.trials = [_trial(t, flatten(t["params"]), self.goal) for t in result["trials"]]
        names = list(dict.fromkeys(k for t in self.trials for k in t.params))
        self.space = {}
        for name in names:
            values = [t.params[name] for t in self.trials if name in t.params]
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            varied = len({repr(v) for v in values}) > 1
            self.space[name] = {"type": ("Float" if numeric else "Choice") if varied else "Fixed"}

    def _check(self, name: str) -> None:
        if name != self.name:
            raise ConfigurationError(f"this result is study {self.name!r}, not {name!r}")

    def describe_study(self, study_name: str) -> dict[str, Any]:
        self._check(study_name)
        return {"space": self.space, **self.goal.to_json(), "config": {}, "created": None}

    def load_trials(self, study_name: str) -> list[Trial]:
        self._check(study_name)
        return self.trials

    def load_reports(self, study_name: str) -> list[Report]:
        self._check(study_name)
        return []

    def load_events(self, study_name: str) -> list[dict[str, Any]]:
        self._check(study_name)
        return []

    def load_checkpoints(self, study_name: str, trial_number: int | None = None) -> list[Checkpoint]:
        self._check(study_name)
        return []  # a result holds its trials, not where their checkpoints were


def _trial(row: dict[str, Any], params: dict[str, Any], goal: Goal) -> Trial:
    """A result's trial dict back as a Trial (its values as a list in the goal's order)."""
    values = row.get("values")
    feasible = row.get("feasible")
    return Trial(
        number=row["number"],
        state=TrialState(row["state"]),
        params=params,
        value=row["value"],
        score=row.get("score"),
        metrics=row.get("metrics") or {},
        artifacts=row.get("artifacts") or {},
        parent_id=row.get("parent_id"),
        depth=row.get("depth") or 0,
        rationale=row.get("rationale"),
        error=row.get("error"),
        kill_reason=row.get("kill_reason"),
        last_step=row.get("last_step"),
        started=row.get("started") or 0.0,
        finished=row.get("finished"),
        values=[values[m] for m in goal.metrics] if isinstance(values, dict) else values,
        violation=None if feasible is None else 0.0 if feasible else 1.0,
    )
