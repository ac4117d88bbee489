"""What a study's outcome is worth and what a user is told of it: each objective's value looked up in
what a trial returned, the checks that fail it (no value, not a number, not finite), its constraint
violation, and the notes and warnings a user must see (how the study opened, a misspelled metric, every
trial failed)."""

from __future__ import annotations

import difflib
import math
from typing import Any

from hyperion_core.checks import finite, number
from hyperion_core.errors import ConfigurationError
from hyperion_core.log import warn_user
from hyperion_core.models import Trial, TrialState
from hyperion_core.state import StudyState
from hyperion_core.text import first_line


def judge(
    state: StudyState, trial: Trial, constraints: dict[str, tuple[str, float]], on_missing: Any
) -> tuple[list[float], float | None, str | None]:
    """A finished trial's value for each objective, its constraint violation (None without constraints),
    and why it fails (None when it does not). A metric of the goal or of a constraint found nowhere calls
    `on_missing(metric, metrics, report, score)` (a misspelling stops the study); with one objective the
    score then stands for it."""
    score, metrics, report = trial.score, trial.metrics, trial.last_report
    values: list[float] = []
    for metric in state.goal.metrics:
        value, found = _lookup(metric, score, metrics, report)
        if not found:
            on_missing(metric, metrics, report or {}, score)
            if not state.multi_objective:
                value = score  # tune(metric="throughput") with ObjectiveResult(score=throughput): the score is it
        checked, error = _as_value(metric, value)
        if checked is None:
            return values, None, error
        values.append(checked)
    if not constraints:
        return values, None, None
    for metric in constraints:
        if not _lookup(metric, score, metrics, report)[1]:
            on_missing(metric, metrics, report or {}, score)
    violation, error = _violation(constraints, score, metrics, report)
    return values, violation, error


def _lookup(metric: str, score: Any, metrics: dict[str, Any], report: dict[str, Any] | None) -> tuple[Any, bool]:
    """A metric's value in a finished trial: the score, its final metrics, or its last report (a metric
    named "score" too: a trial stopped early has no score but may have reported one)."""
    if metric == "score" and score is not None:
        return score, True
    if metric in metrics:
        return metrics[metric], True
    if report and metric in report:
        return report[metric], True
    return None, False


def _as_value(metric: str, value: Any) -> tuple[float, None] | tuple[None, str]:
    """`value` as the trial's value of `metric` (a finite float), or why it cannot be."""
    converted = finite(value)
    if converted is not None:
        return converted, None
    return None, _not_a_value(metric, value)


def _not_a_value(metric: str, value: Any) -> str:
    """Why `value` cannot be the trial's value of `metric`."""
    if value is None:
        where = (
            "ObjectiveResult(score=...)"
            if metric == "score"
            else f"ObjectiveResult(metrics={{'{metric}': ...}}) or ctx.report({metric}=...)"
        )
        return f"the objective gave no value for metric '{metric}'; return it in {where}"
    converted = number(value)
    if converted is None:
        return f"metric '{metric}' is {value!r:.200} ({type(value).__name__}), not a number"
    shown = f"an integer of {len(str(abs(converted)))} digits" if isinstance(converted, int) else str(converted)
    return f"metric '{metric}' is {shown} (not finite); a trial's value must be a finite number"


def _violation(
    constraints: dict[str, tuple[str, float]], score: Any, metrics: dict[str, Any], report: dict[str, Any] | None
) -> tuple[float | None, str | None]:
    """How far a trial is outside its constraints (0: feasible), or why it cannot be told."""
    total = 0.0
    for metric, (op, bound) in constraints.items():
        value, _ = _lookup(metric, score, metrics, report)
        amount, problem = _as_value(metric, value)
        if amount is None:
            return None, f"constraint: {problem}"
        total += max(0.0, amount - bound) if op == "<=" else max(0.0, bound - amount)
    return total, None


def judge_loaded(trials: list[Trial], constraints: dict[str, tuple[str, float]]) -> None:
    """Completed trials loaded without a constraint verdict (a study from before its constraints were
    kept) are judged against today's constraints from their stored metrics; one that cannot be judged is
    infeasible: a best must be shown to meet them."""
    if not constraints:
        return
    for trial in trials:
        if trial.state is TrialState.COMPLETED and trial.violation is None:
            violation, _ = _violation(constraints, trial.score, trial.metrics, trial.last_report)
            trial.violation = violation if violation is not None else math.inf


def _again(old: Trial) -> Trial:
    """An interrupted trial, to run again with its number and parameters."""
    return Trial(
        number=old.number, params=old.params, parent_id=old.parent_id, depth=old.depth, rationale=old.rationale
    )


def reported_value(trial: Trial, metric: str) -> float | None:
    """A killed trial's last reported value of the metric (for rank_killed_trials=True)."""
    return finite((trial.last_report or {}).get(metric))


def check_metric_name(
    state: StudyState, metric: str, metrics: dict[str, Any], report: dict[str, Any], score: float | None
) -> None:
    """`metric` (of the goal, or of a constraint) is nowhere in a finished trial: a misspelling stops the
    study, whichever list it is in; otherwise, with one objective, the score stands for it, said once."""
    known = sorted(set(metrics) | set(report))
    close = difflib.get_close_matches(metric, [k for k in known if k != metric], n=1, cutoff=0.75)
    close += [k for k in known if not close and (metric.lower() in k.lower() or k.lower() in metric.lower())]
    if close:
        goal = list(state.goal.metrics)
        where = (
            f"metric='{close[0]}'"
            if goal == [metric]
            else f"metric={[close[0] if m == metric else m for m in goal]!r}"
            if metric in goal
            else f"constraints={{'{close[0]}': ...}}"
        )
        raise ConfigurationError(
            f"metric '{metric}' is not among the metrics the trials give ({', '.join(known)}); did you mean {where}?"
        )
    if score is not None and not state.multi_objective and metric == state.metric:
        text = (
            f"metric '{metric}' was not in the trials' metrics or reports"
            + (f" ({', '.join(known)})" if known else "")
            + "; their score was used as its value"
        )
        state.note(text)
        warn_user(text)


def say_how_it_opened(state: StudyState, reruns: int, max_trials: int | None) -> None:
    """The notes of a study's start: several objectives, resumed or joined, nothing left to run."""
    if state.multi_objective:
        state.note("several objectives: result['best'] is None; the non-dominated trials are in result['pareto_front']")
    if state.joined:
        state.note(f"joined study '{state.name}' in {state.storage_url}: {state.resumed} finished trial(s) there")
    elif state.resumed or reruns:
        state.note(
            f"resumed from {state.storage_url}: {state.resumed} finished trial(s) loaded"
            + (f", {reruns} interrupted trial(s) to run again" if reruns else "")
        )
    if state.resumed and not reruns and max_trials is not None and len(state.trials) >= max_trials:
        text = (
            f"study '{state.name}' already has {len(state.trials)} trial(s), max_trials={max_trials}: no new trial "
            f"runs; raise max_trials (e.g. max_trials={len(state.trials) + max_trials}) to extend it"
        )
        state.note(text, warn=True)
        warn_user(text)


def warn_if_nothing_completed(state: StudyState) -> None:
    if state.best is not None or state.front:
        return
    if state.counts["completed"]:
        if any((t.violation or 0) > 0 for t in state.trials):  # completed, but none met the constraints
            text = (
                f"no completed trial of study '{state.name}' met the constraints, so result['best'] is None "
                "(the trials are kept, marked feasible=False)"
            )
            state.note(text, warn=True)
            warn_user(text)
        return
    failed = [t for t in state.trials if t.state is TrialState.FAILED]
    if not failed:
        return
    first = failed[0]
    text = (
        f"all {len(failed)} finished trial(s) of study '{state.name}' failed, so result['best'] is None; "
        f"the first error ({first.trial_id}): {first_line(first.error, 500)}"
    )
    state.note(text, warn=True)
    warn_user(text)
