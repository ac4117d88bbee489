"""Per-trial learning curves of one metric, indexed incrementally from the study's report history,
so a policy can ask "what was trial t's value at step s (or its latest before s)" in O(log n)."""

from __future__ import annotations

import bisect
import math

from hyperion_core.checks import as_float
from hyperion_core.errors import ConfigurationError
from hyperion_core.goal import DIRECTIONS, Goal
from hyperion_core.models import Trial
from hyperion_core.state import StudyState


class Curves:
    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.steps: dict[int, list[int]] = {}
        self.values: dict[int, list[float]] = {}
        self._seen: dict[int, int] = {}  # trial number -> history entries already indexed

    def update(self, study: StudyState) -> None:
        """Index the reports that arrived since the last call (amortised O(new reports))."""
        for number, history in study.history.items():
            start = self._seen.get(number, 0)
            if start == len(history):
                continue
            for step, metrics in history[start:]:
                value = as_float(metrics.get(self.metric))  # NaN stays (a kill); 10**400 is inf
                if value is not None:
                    # A trial enters the index with its first value of the metric: a trial that reported
                    # only other metrics has no curve (never an empty one).
                    steps = self.steps.setdefault(number, [])
                    values = self.values.setdefault(number, [])
                    if steps and step <= steps[-1]:  # a repeated or earlier step replaces the tail
                        cut = bisect.bisect_left(steps, step)
                        del steps[cut:], values[cut:]
                    steps.append(step)
                    values.append(value)
            self._seen[number] = len(history)

    def at(self, number: int, step: int) -> float | None:
        steps = self.steps.get(number)
        if not steps:
            return None
        i = bisect.bisect_right(steps, step)
        return self.values[number][i - 1] if i else None

    def others_at(self, trial: Trial, step: int) -> list[float]:
        """The other trials' values at `step` (each one's latest at or before it), among the trials
        that got that far: a trial stopped or still running before `step` has no say (its stale,
        earlier value would make the bar too easy). NaN values are left out."""
        out = []
        for number, steps in self.steps.items():
            if number != trial.number and steps and steps[-1] >= step:
                value = self.at(number, step)
                if value is not None and not math.isnan(value):
                    out.append(value)
        return out


def latest(trial: Trial, metric: str) -> tuple[float | None, bool]:
    """The metric in the trial's last report as a float (NaN kept; an int too large for a float is an
    infinity): (value, present). A report without it, or with something that is no number, is no evidence."""
    value = as_float((trial.last_report or {}).get(metric))
    return value, value is not None


def watched(study: StudyState, metric: str | None, mode: str | None, policy: str) -> Goal:
    """What the policy watches: tune()'s primary metric and direction unless early_stopping_kwargs
    name others."""
    if study.goal.several and metric is None:  # which one is not ours to guess (moasha watches them all)
        raise ConfigurationError(
            "early stopping with several objectives needs the metric to watch: early_stopping_kwargs="
            "{'metric': 'val_loss', 'mode': 'min'} (one of the objectives or any reported metric), "
            "or early_stopping='moasha' to halve on all of them"
        )
    mode = mode or study.goal.direction
    if mode not in DIRECTIONS:
        raise ConfigurationError(f"{policy}: mode must be 'min' or 'max', got {mode!r}")
    return Goal.of(metric or study.goal.metric, mode)
