"""What a study is, read back: the result tune() returns (a dict, as the API guide shows it, with
`trials_dataframe()`), built from the loop's state or from a storage by `load_study()`."""

from __future__ import annotations

import math
from typing import Any

from hyperion_core.errors import ConfigurationError
from hyperion_core.goal import Goal
from hyperion_core.models import TrialState
from hyperion_core.protocols import Storage
from hyperion_core.space import Space, flatten
from hyperion_core.state import StudyState
from hyperion_core.text import redact_url


class StudyResult(dict[str, Any]):
    """tune()'s result: `result["best"]`, `result["study"]`, `result["trials"]` (and `pareto_front` with
    several objectives), plus `trials_dataframe()`."""

    def trials_dataframe(self) -> Any:
        """One row per trial as a pandas DataFrame, as Optuna users know it: number, state, value, score,
        datetime_start, datetime_complete, duration, then `params_<name>` (dotted for nested ones) and
        `metrics_<name>` columns."""
        try:
            import pandas as pd
        except ImportError:
            raise ConfigurationError("trials_dataframe() needs pandas: pip install pandas") from None
        rows = []
        for trial in self["trials"]:
            row = {
                "number": trial["number"],
                "trial_id": trial["trial_id"],
                "state": trial["state"],
                "value": trial["value"],
                "score": trial["score"],
                "datetime_start": _when(trial["started"]),
                "datetime_complete": _when(trial["finished"]),
                "duration": pd.to_timedelta(trial["duration_s"], unit="s") if trial["duration_s"] is not None else None,
            }
            row.update({f"params_{k}": v for k, v in flatten(trial["params"]).items()})
            row.update({f"metrics_{k}": v for k, v in (trial["metrics"] or {}).items()})
            if trial.get("feasible") is not None:
                row["feasible"] = trial["feasible"]
            rows.append(row)
        frame = pd.DataFrame(rows)
        for column in ("datetime_start", "datetime_complete"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column])
        return frame


def _when(timestamp: float | None) -> Any:
    import datetime

    return None if timestamp is None else datetime.datetime.fromtimestamp(timestamp)


def load_study(name: str, storage: str | Storage) -> StudyResult:
    """A stored study as tune() would return it now: its best, its counts and every trial (a running one
    as running). Reading only: the study is not changed, and a run that works it
    goes on. `storage` is a URL (sqlite:///..., postgresql://...) or a storage object (the
    MemoryStorage a tune() wrote to)."""
    from hyperion_core.plugins import registry

    store = registry().storage(storage, read_only=True)
    try:
        info = store.describe_study(name)
        state = StudyState(name, Space.described(info["space"]), Goal.from_json(info), None)
        state.storage_url = redact_url(getattr(store, "url", type(store).__name__))
        trials = store.load_trials(name)
        state.load(trials, {}, [t for t in trials if not t.state.finished])
        times = [t.started for t in trials if t.started] + [t.finished for t in trials if t.finished]
        state.duration = max(times) - min(times) if times else 0.0
        if not math.isfinite(state.duration):
            state.duration = 0.0
        strategy = (info.get("config") or {}).get("strategy") or "unknown"
        result = result_of(state, strategy)
        result["study"]["running"] = sum(1 for t in trials if t.state is TrialState.RUNNING)
        return result
    finally:
        if isinstance(storage, str):
            store.close()


def result_of(state: StudyState, strategy: Any) -> StudyResult:
    """The result dict tune() returns (and Study.result()): the best trial, the study, every trial;
    with several objectives `best` is None and `pareto_front` holds the non-dominated trials."""
    storage_url, duration = state.storage_url, state.duration or 0.0
    unflatten = state.space.unflatten
    best = state.best
    extra: dict[str, Any] = {}
    if state.multi_objective:
        extra["pareto_front"] = [
            {**t.to_dict(unflatten(t.params)), "values": dict(zip(state.goal.metrics, t.values or []))}
            for t in state.top()
        ]
    return StudyResult(
        {
            **extra,
            "best": None
            if best is None
            else {
                "trial_id": best.trial_id,
                "params": unflatten(best.params),
                "score": best.score if best.score is not None else best.value,
                "value": best.value,
                "metrics": best.metrics,
                "artifacts": best.artifacts,
            },
            "study": {
                "name": state.name,
                "storage": storage_url,
                "strategy": strategy if isinstance(strategy, str) else type(strategy).__name__,
                "metric": list(state.goal.metrics) if state.goal.several else state.goal.metric,
                "mode": list(state.goal.directions) if state.goal.several else state.goal.direction,
                "trials": len(state.trials),
                "completed": state.counts["completed"],
                "failed": state.counts["failed"],
                "killed": state.counts["killed"],
                "interrupted": sum(1 for t in state.trials if t.state is TrialState.INTERRUPTED),
                "resumed": state.resumed,
                "joined": state.joined,
                "duration_s": duration,
                "notes": list(state.notes),
            },
            "trials": [t.to_dict(unflatten(t.params)) for t in state.trials],
        }
    )
