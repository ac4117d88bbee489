"""Asynchronous successive halving (ASHA) and Hyperband (brackets of ASHA).

Rungs sit at steps min_resource * reduction_factor**k. When a trial first reports at or past a
rung, it goes on only if its value there is in the top 1/reduction_factor of every value recorded at
that rung so far (the first trial at a rung goes on); otherwise it is stopped.
"""

from __future__ import annotations

import math

from hyperion_core import checks
from hyperion_core.goal import Goal
from hyperion_core.models import Trial
from hyperion_core.protocols import Policy
from hyperion_core.state import StudyState
from hyperion_policies._curves import Curves, latest, watched


def _check(label: str, value: object, low: int) -> None:
    checks.whole_number(f"early stopping: {label}", value, low)


class _Rungs:
    """One successive-halving ladder: the values recorded at each rung."""

    def __init__(self, min_resource: int, factor: int, start: int, max_resource: int | None) -> None:
        self.steps: list[int] = []
        k = start
        while max_resource is None or min_resource * factor**k < max_resource:
            self.steps.append(min_resource * factor**k)
            k += 1
            if max_resource is None and len(self.steps) > 40:
                break
        self.factor = factor
        self.recorded: list[list[float]] = [[] for _ in self.steps]
        self.passed: dict[int, int] = {}  # trial number -> rungs it has passed

    def judge(self, trial: Trial, step: int, curves: Curves, goal: Goal) -> str | None:
        rung = self.passed.get(trial.number, 0)
        while rung < len(self.steps) and step >= self.steps[rung]:
            value = curves.at(trial.number, self.steps[rung])
            if value is None:  # its first report came after the rung: judge it by that one
                value = curves.at(trial.number, step)
            if value is None:
                return None
            recorded = self.recorded[rung]
            recorded.append(value)
            keep = max(1, len(recorded) // self.factor)
            ranked = sorted(recorded, key=goal.loss)
            if goal.better(ranked[keep - 1], value):
                return (
                    f"asha: {goal.metric}={value:.6g} at rung step {self.steps[rung]} is outside the top {keep} of "
                    f"{len(recorded)} trials there (1/{self.factor})"
                )
            rung += 1
            self.passed[trial.number] = rung
        return None


class ASHA(Policy):
    """min_resource: the first rung's step (default 1). reduction_factor: keep the top 1/this at each
    rung (default 3). max_resource: no rung at or past this step (default: none). metric, mode:
    default to tune()'s."""

    def __init__(
        self,
        min_resource: int = 1,
        reduction_factor: int = 3,
        max_resource: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        _check("min_resource", min_resource, 1)
        _check("reduction_factor", reduction_factor, 2)
        if max_resource is not None:
            _check("max_resource", max_resource, min_resource + 1)
        self.min_resource, self.reduction_factor, self.max_resource = min_resource, reduction_factor, max_resource
        self._metric, self._mode = metric, mode

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.goal = watched(study, self._metric, self._mode, type(self).__name__.lower())
        self.metric = self.goal.metric
        self.curves = Curves(self.metric)
        self.ladders = self._ladders()

    def _ladders(self) -> list[_Rungs]:
        return [_Rungs(self.min_resource, self.reduction_factor, 0, self.max_resource)]

    def _ladder(self, trial: Trial) -> _Rungs:
        return self.ladders[0]

    def should_stop(self, study: StudyState, trial: Trial) -> str | None:
        value, _ = latest(trial, self.metric)
        if value is None or trial.last_step is None:
            return None
        if math.isnan(value):
            return f"{type(self).__name__.lower()}: {self.metric} is NaN at step {trial.last_step}"
        ladder = self._ladder(trial)
        rung = ladder.passed.get(trial.number, 0)
        if rung < len(ladder.steps) and trial.last_step >= ladder.steps[rung]:  # only at a rung: cheap otherwise
            self.curves.update(study)
            return ladder.judge(trial, trial.last_step, self.curves, self.goal)
        return None


class Hyperband(ASHA):
    """Brackets of ASHA that start halving at different rungs, so some trials get a long run before
    any comparison, and the last runs every trial to the end. Trials are spread over the brackets in
    turn. max_resource (default 100) sets how many brackets there are:
    floor(log_reduction_factor(max_resource / min_resource)) + 1."""

    def __init__(
        self,
        min_resource: int = 1,
        reduction_factor: int = 3,
        max_resource: int = 100,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        super().__init__(min_resource, reduction_factor, max_resource, metric, mode)

    def _ladders(self) -> list[_Rungs]:
        assert self.max_resource is not None
        count = 1  # brackets s = 0 .. S with min_resource * factor**S <= max_resource (the last never halts)
        while self.min_resource * self.reduction_factor**count <= self.max_resource:
            count += 1
        return [_Rungs(self.min_resource, self.reduction_factor, s, self.max_resource) for s in range(count)]

    def _ladder(self, trial: Trial) -> _Rungs:
        return self.ladders[trial.number % len(self.ladders)]
