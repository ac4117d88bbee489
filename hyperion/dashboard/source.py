"""Where the figures' data come from: a SQL storage (its bounded views) or a tune() result in memory.

Both answer the same questions (`study_view`, `history_view`, `sample_view`, `curves_view`,
`lineage_view`), so the dashboard, the report and `hyperion.plot` build every figure one way.
"""

from __future__ import annotations

from typing import Any, Protocol

from hyperion.dashboard import figures
from hyperion.dashboard.timeline import timeline
from hyperion_core.errors import ConfigurationError, StorageError
from hyperion_core.text import redact_url


class Source(Protocol):
    def study_view(self, study_name: str) -> dict[str, Any]: ...
    def history_view(self, study_name: str, cap: int = ...) -> dict[str, Any]: ...
    def sample_view(self, study_name: str, cap: int = ...) -> dict[str, Any]: ...
    def curves_view(
        self, study_name: str, metric: str, max_trials: int = ..., max_points: int = ...
    ) -> dict[str, Any]: ...
    def lineage_view(self, study_name: str, cap: int = ...) -> list[dict[str, Any]]: ...
    def timeline_view(self, study_name: str, cap: int = ...) -> list[dict[str, Any]]: ...


def open_storage(url: str | None) -> Any:
    """The storage at `url`, checked to be one the dashboard can read (SQLite or PostgreSQL)."""
    from hyperion.cli.studies import storage_url_problem
    from hyperion_core.plugins import registry

    if (problem := storage_url_problem(url)) is not None:
        raise (StorageError if problem.startswith("no database") else ConfigurationError)(problem)
    storage = registry().storage(url or "", read_only=True)
    if not hasattr(storage, "study_view"):
        storage.close()
        raise ConfigurationError(
            f"storage {redact_url(url)} has no study views; the dashboard reads SQL storages "
            "(sqlite:///file.db, postgresql://...)"
        )
    return storage


def study_figures(source: Source, name: str, study: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every figure of a study page, by name (a figure that does not apply, e.g. lineage without a
    tree, is left out)."""
    study = study or source.study_view(name)
    sample = source.sample_view(name)
    out: dict[str, Any] = {"history": figures.history(study, source.history_view(name))}
    if (front := figures.pareto(study, sample)) is not None:
        out["pareto"] = front
    out["importance"] = figures.importance(study, sample)
    out["slices"] = figures.slices(study, sample)
    out["parallel_coordinates"] = figures.parallel_coordinates(study, sample)
    if (curves := figures.intermediate(study, source.curves_view(name, study["metrics"][0]))) is not None:
        out["intermediate"] = curves
    if (tree := figures.lineage(study, source.lineage_view(name))) is not None:
        out["lineage"] = tree
    out["timeline"] = timeline(study, source.timeline_view(name))
    return out


class ResultSource:
    """A tune() result (or Study.result()) as a source. The result has no per-step reports, so the
    intermediate-values figure needs the storage: pass a storage URL instead."""

    def __init__(self, result: dict[str, Any]) -> None:
        if not isinstance(result, dict) or "study" not in result or "trials" not in result:
            raise ConfigurationError("expected a tune() result (the dict tune() returns) or a storage URL")
        from hyperion_core.space import flatten

        self.result = result
        study = result["study"]
        metrics = study["metric"] if isinstance(study["metric"], list) else [study["metric"]]
        modes = study["mode"] if isinstance(study["mode"], list) else [study["mode"]]
        self.trials = [{**t, "params": flatten(t["params"])} for t in result["trials"]]
        names = list(dict.fromkeys(k for t in self.trials for k in t["params"]))
        space = {}
        for name in names:
            values = [t["params"][name] for t in self.trials if name in t["params"]]
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            varied = len({repr(v) for v in values}) > 1
            space[name] = {"type": ("Float" if numeric else "Choice") if varied else "Fixed"}
        self.study = {
            "name": study["name"],
            "metrics": metrics,
            "modes": modes,
            "space": space,
            "trials": len(self.trials),
        }

    def _check(self, name: str) -> None:
        if name != self.study["name"]:
            raise ConfigurationError(f"this result is study {self.study['name']!r}, not {name!r}")

    def study_view(self, study_name: str) -> dict[str, Any]:
        self._check(study_name)
        return self.study

    def history_view(self, study_name: str, cap: int = 0) -> dict[str, Any]:
        self._check(study_name)
        sign = -1 if self.study["modes"][0] == "max" else 1
        points, best, current = [], [], None
        for t in sorted(self.trials, key=lambda t: t["number"]):
            feasible = t.get("feasible") is not False
            points.append({"number": t["number"], "state": t["state"], "value": t["value"], "feasible": feasible})
            if t["state"] == "completed" and t["value"] is not None and feasible and len(self.study["metrics"]) == 1:
                if current is None or sign * t["value"] <= sign * current:
                    current = t["value"]
                    best.append({"number": t["number"], "value": t["value"]})
        return {"stride": 1, "points": points, "best": best}

    def sample_view(self, study_name: str, cap: int = 0) -> dict[str, Any]:
        self._check(study_name)
        metrics = self.study["metrics"]
        done = [t for t in self.trials if t["state"] == "completed"]
        rows = [
            {
                "number": t["number"],
                "value": t["value"],
                "values": [t["values"][m] for m in metrics] if isinstance(t.get("values"), dict) else t.get("values"),
                "feasible": t.get("feasible") is not False,
                "params": t["params"],
            }
            for t in done
        ]
        return {"stride": 1, "trials": rows}

    def curves_view(self, study_name: str, metric: str, max_trials: int = 0, max_points: int = 0) -> dict[str, Any]:
        self._check(study_name)
        return {"metric": metric, "trials_with_reports": 0, "curves": []}

    def timeline_view(self, study_name: str, cap: int = 0) -> list[dict[str, Any]]:
        self._check(study_name)
        keys = ("number", "state", "started", "finished")
        return [{**{k: t.get(k) for k in keys}, "worker": None} for t in self.trials]

    def lineage_view(self, study_name: str, cap: int = 0) -> list[dict[str, Any]]:
        self._check(study_name)
        if not any(t.get("parent_id") for t in self.trials):
            return []
        keys = ("number", "trial_id", "parent_id", "depth", "state", "value", "rationale")
        return [{k: t.get(k) for k in keys} for t in self.trials]
