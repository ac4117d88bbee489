"""One codec for a trial's row in the SQL storage: a Trial to its column values, and a row back to a
Trial (a hand-damaged value is refused here, so every reader says "the stored data is damaged")."""

from __future__ import annotations

import json
from typing import Any

from hyperion_core.goal import Goal
from hyperion_core.models import Trial, TrialState
from hyperion_core.text import dumps

ASKED = "*asked*"  # a trial's owner once `hyperion ask` handed it out: running until `hyperion tell`


def goal_columns(goal: Goal) -> dict[str, str]:
    """A study's goal as its row keeps it: two JSON lists."""
    return {"metric": json.dumps(list(goal.metrics)), "mode": json.dumps(list(goal.directions))}


def goal_of(row: Any) -> Goal:
    """A study row's goal (a hand-damaged one is refused as damaged data)."""
    try:
        return Goal.of(json.loads(row["metric"]), json.loads(row["mode"]))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the stored goal is damaged: {exc}") from None


def trial_row(study_id: int, t: Trial) -> dict[str, Any]:
    return {
        "study_id": study_id,
        "number": t.number,
        "trial_id": t.trial_id,
        "state": t.state.value,
        "params": dumps(t.params),
        "value": t.value,
        "score": t.score,
        "metrics": dumps(t.metrics),
        "artifacts": dumps(t.artifacts),
        "parent_id": t.parent_id,
        "depth": t.depth,
        "rationale": t.rationale,
        "error": t.error,
        "kill_reason": t.kill_reason,
        "last_step": t.last_step,
        "started": t.started,
        "finished": t.finished,
        "objective_values": None if t.values is None else dumps(t.values),
        "violation": t.violation,
    }


def number_column(row: Any, column: str) -> float | None:
    """A numeric column of a stored trial; anything else (a hand-edited file) is a damaged row."""
    value = row[column]
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise ValueError(f"the {column} of trial {row['number']} is {value!r:.40}, not a number")


def trial_of(r: Any) -> Trial:
    return Trial(
        number=r["number"],
        params=json.loads(r["params"]),
        state=TrialState(r["state"]),
        value=number_column(r, "value"),
        score=number_column(r, "score"),
        metrics=json.loads(r["metrics"]),
        artifacts=json.loads(r["artifacts"]),
        parent_id=r["parent_id"],
        depth=r["depth"],
        rationale=r["rationale"],
        error=r["error"],
        started=number_column(r, "started") or 0.0,
        finished=number_column(r, "finished"),
        last_step=r["last_step"],
        kill_reason=r["kill_reason"],
        values=json.loads(r["objective_values"]) if r["objective_values"] else None,
        violation=number_column(r, "violation"),
        waiting=r.get("owner") == ASKED,
    )
