"""What the LLM strategies say to the model: the goal, the space, the history, a reply template and
its JSON schema. Each parameter describes itself (hyperion_core.params); replies are read in replies.py."""

from __future__ import annotations

import json
from typing import Any

from hyperion_core.models import Trial, TrialState
from hyperion_core.space import Space
from hyperion_core.state import StudyState
from hyperion_core.text import first_line, plain_number
from hyperion_llm.parameters import json_schema, prompt_line, reply_slot


def describe_space(space: Space) -> str:
    def when(name: str) -> str:
        condition = space.conditions.get(name)
        return f" (only when {condition[0]} = {json.dumps(condition[1])}; leave it out otherwise)" if condition else ""

    lines = [f"- {name}: {prompt_line(p)}{when(name)}" for name, p in space.params.items()]
    lines += [
        f"- {name}: fixed at {json.dumps(value)} (do not change){when(name)}" for name, value in space.fixed.items()
    ]
    return "\n".join(lines)


def compact(params: dict[str, Any]) -> str:
    """A point as JSON with floats to 4 significant digits in plain decimals: short, and easy to read."""
    parts = [
        f"{json.dumps(name)}: {plain_number(value, 4) if isinstance(value, float) else json.dumps(value)}"
        for name, value in params.items()
    ]
    return "{" + ", ".join(parts) + "}"


def goal(study: StudyState) -> str:
    if study.multi_objective:
        goals = " and ".join(f"{'maximize' if mode == 'max' else 'minimize'} `{metric}`" for metric, mode in study.goal)
        return f"{goals} (several objectives: find points that extend or improve the Pareto front)"
    better = "higher" if study.mode == "max" else "lower"
    return f"{'maximize' if study.mode == 'max' else 'minimize'} `{study.metric}` ({better} is better)"


def searched(trial: Trial, space: Space) -> dict[str, Any]:
    return {name: trial.params[name] for name in space.names if name in trial.params}


def outcome(trial: Trial, study: StudyState) -> str:
    """A trial's result in a prompt: "loss=0.31", "accuracy=0.9, latency_ms=12", or how it ended."""
    metric = study.metric
    if trial.state is TrialState.COMPLETED and trial.values is not None and trial.metrics is not None:
        shown = ", ".join(f"{name}={plain_number(v, 4)}" for name, v in zip(study.goal.metrics, trial.values))
        return shown + (" (infeasible)" if (trial.violation or 0) > 0 else "")
    if trial.state is TrialState.COMPLETED:
        infeasible = " (infeasible: outside the constraints)" if (trial.violation or 0) > 0 else ""
        return f"{metric}={plain_number(trial.value, 4) if trial.value is not None else '-'}{infeasible}"
    if trial.state is TrialState.FAILED:
        return f"failed ({first_line(trial.error, 120)})"
    if trial.state is TrialState.KILLED:
        return f"stopped early ({(trial.kill_reason or '')[:120]})"
    return str(trial.state.value)


def history(study: StudyState, limit: int) -> str:
    """The best trials and the most recent ones, up to `limit` in all."""
    space = study.space
    best = study.top(max(1, limit // 2))
    shown = {t.number for t in best}
    finished = [t for t in study.trials if t.state.finished and t.number not in shown]
    recent = finished[-(limit - len(best)) :] if limit > len(best) else []
    lines = []
    if best:
        lines.append("The Pareto front so far:" if study.multi_objective else "Best trials so far (best first):")
        lines += [f"  {t.trial_id}: {compact(searched(t, space))} -> {outcome(t, study)}" for t in best]
    if recent:
        lines.append("Most recent other trials:")
        lines += [f"  {t.trial_id}: {compact(searched(t, space))} -> {outcome(t, study)}" for t in recent]
    if not lines:
        lines.append("No trial has finished yet.")
    running = list(study.running.values())
    if running:
        lines.append("Running now (do not suggest these again):")
        lines += [f"  {compact(searched(t, space))}" for t in running]
    return "\n".join(lines)


def template(space: Space) -> str:
    """The params object of the reply with each value's allowed range in place: small models follow a
    filled-in template much better than a separate list of bounds."""
    return "{" + ", ".join(f"{json.dumps(name)}: {reply_slot(p)}" for name, p in space.params.items()) + "}"


def point_schema(space: Space) -> dict[str, Any]:
    props = {name: json_schema(p) for name, p in space.params.items()}
    return {"type": "object", "properties": props, "required": list(props)}


def suggestions_schema(space: Space, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {"params": point_schema(space), "rationale": {"type": "string"}, **(extra or {})},
        "required": ["params", "rationale", *(extra or {})],
    }
    return {
        "type": "object",
        "properties": {"suggestions": {"type": "array", "items": item}},
        "required": ["suggestions"],
    }
