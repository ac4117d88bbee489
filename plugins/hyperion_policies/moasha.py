"""Multi-objective ASHA (as Syne Tune's MOASHA, Schmucker et al. 2021): successive halving on several
metrics at once. At each rung the trials there are ordered by non-dominated rank (the Pareto front
first), ties by crowding distance (the more isolated first, NSGA-II's rule); a trial goes on while it
is in the top `max(1, n // reduction_factor)` of the `n` trials at its rung, else it is stopped, or with
resume=True paused and promoted later as asha's resume=True does (the top `n // reduction_factor`).
"""

from __future__ import annotations

import math

from hyperion_core import checks
from hyperion_core.errors import ConfigurationError
from hyperion_core.goal import Goal
from hyperion_core.models import Trial
from hyperion_core.pareto import crowding, nondominated_ranks
from hyperion_core.protocols import Pause, Policy
from hyperion_core.state import StudyState
from hyperion_policies._curves import Curves


class MOASHA(Policy):
    """metrics, modes: the objectives to halve on (default: tune()'s metrics and modes). min_resource,
    reduction_factor, max_resource, resume: as for asha."""

    def __init__(
        self,
        metrics: list[str] | None = None,
        modes: list[str] | None = None,
        min_resource: int = 1,
        reduction_factor: int = 3,
        max_resource: int | None = None,
        resume: bool = False,
    ) -> None:
        checks.whole_number("moasha: min_resource", min_resource, 1)
        checks.whole_number("moasha: reduction_factor", reduction_factor, 2)
        if max_resource is not None:
            checks.whole_number("moasha: max_resource", max_resource, min_resource + 1)
        if not isinstance(resume, bool):
            raise ConfigurationError(f"moasha: resume must be True or False, got {resume!r}")
        self._metrics, self._modes = metrics, modes
        self.factor, self.resume = reduction_factor, resume
        self.steps: list[int] = []
        k = 0
        while (max_resource is None and len(self.steps) < 40) or (
            max_resource is not None and min_resource * reduction_factor**k < max_resource
        ):
            self.steps.append(min_resource * reduction_factor**k)
            k += 1

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        if self._metrics is None:
            self.goal = study.goal
        else:
            self.goal = Goal.of(self._metrics, self._modes if self._modes is not None else "min")
        if len(self.goal.metrics) < 2:
            raise ConfigurationError(
                "moasha halves on several metrics: use it with tune(metric=[...]) or give "
                "early_stopping_kwargs={'metrics': [...], 'modes': [...]}; for one metric use asha"
            )
        self.curves = [Curves(m) for m in self.goal.metrics]
        self.at_rung: list[dict[int, tuple[float, ...]]] = [{} for _ in self.steps]
        self.passed: dict[int, int] = {}
        self.promoted: list[set[int]] = [set() for _ in self.steps]

    def _order(self, rung: int) -> list[int]:
        """The trials at a rung, the best first: non-dominated rank, then the larger crowding distance."""
        numbers = list(self.at_rung[rung])
        if not numbers:
            return []
        loss = self.goal.losses([self.at_rung[rung][n] for n in numbers])
        ranks, spread = nondominated_ranks(loss), crowding(loss)
        return [numbers[i] for i in sorted(range(len(numbers)), key=lambda i: (ranks[i], -spread[i]))]

    def should_stop(self, study: StudyState, trial: Trial) -> str | Pause | None:
        step = trial.last_step
        rung = self.passed.get(trial.number, 0)
        if step is None or rung >= len(self.steps) or step < self.steps[rung]:
            return None  # only at a rung: cheap otherwise
        for curves in self.curves:
            curves.update(study)
        while rung < len(self.steps) and step >= self.steps[rung]:
            values = [_at(c, trial.number, self.steps[rung], step) for c in self.curves]
            if any(v is None for v in values):
                return None  # a metric not reported yet is no evidence
            if any(math.isnan(v) for v in values if v is not None):
                return f"moasha: a metric is NaN at step {step}"
            self.at_rung[rung][trial.number] = tuple(float(v) for v in values if v is not None)
            order = self._order(rung)
            n = len(order)
            keep = n // self.factor if self.resume else max(1, n // self.factor)
            if trial.number not in order[:keep]:
                where = f"at rung step {self.steps[rung]} is not in the top {keep} of {n} trials there by Pareto rank"
                shown = ", ".join(f"{m}={v:.6g}" for m, v in zip(self.goal.metrics, self.at_rung[rung][trial.number]))
                return Pause(f"moasha: {shown} {where} (yet): paused") if self.resume else f"moasha: {shown} {where}"
            self.promoted[rung].add(trial.number)
            rung += 1
            self.passed[trial.number] = rung
        return None

    def promote(self, study: StudyState, slots: int) -> list[int]:
        if not self.resume or not study.paused or slots <= 0:
            return []
        chosen: list[int] = []
        for rung in reversed(range(len(self.steps))):  # the highest rung first
            order = self._order(rung)
            for number in order[: len(order) // self.factor]:
                if number in study.paused and number not in self.promoted[rung] and len(chosen) < slots:
                    self.promoted[rung].add(number)
                    self.passed[number] = rung + 1
                    chosen.append(number)
        spent = study.max_trials is not None and len(study.trials) >= study.max_trials
        if not chosen and spent and not study.running and not study.counts["completed"]:
            for rung in reversed(range(len(self.steps))):  # finish at least one trial
                waiting = [n for n in self._order(rung) if n in study.paused]
                if waiting:
                    self.passed[waiting[0]] = rung + 1
                    return [waiting[0]]
        return chosen


def _at(curves: Curves, number: int, rung_step: int, step: int) -> float | None:
    """The value at the rung's step, or (a first report after it) at the step reported."""
    value = curves.at(number, rung_step)
    return value if value is not None else curves.at(number, step)
