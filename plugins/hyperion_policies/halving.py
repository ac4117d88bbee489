"""Asynchronous successive halving (ASHA) and Hyperband (brackets of ASHA).

Rungs sit at steps min_resource * reduction_factor**k. When a trial first reports at or past a
rung, it goes on only if its value there is in the top 1/reduction_factor of every value recorded at
that rung so far (the first trial at a rung goes on); otherwise it is stopped.

With resume=True (promotion-based, as in Li et al. 2020): a trial that is not in the top
1/reduction_factor when it reaches a rung is paused at its checkpoint instead of stopped; whenever a
slot is free, a paused trial that has since risen into the top 1/reduction_factor of its rung (others
arrived there worse) is promoted and continues from its checkpoint, the highest rung first. If no new
trial may start, none runs and none has completed, the best paused trial of the highest rung is
promoted, so a study always finishes at least one trial. An objective that saves no checkpoint is stopped instead (as without resume).
"""

from __future__ import annotations

import math

from hyperion_core import checks
from hyperion_core.errors import ConfigurationError
from hyperion_core.goal import Goal
from hyperion_core.models import Trial
from hyperion_core.protocols import Pause, Policy
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
        # resume=True: each rung's trials and values, and the trials that went on (or were promoted) from it
        self.at_rung: list[dict[int, float]] = [{} for _ in self.steps]
        self.promoted: list[set[int]] = [set() for _ in self.steps]

    def arrive(self, trial: Trial, step: int, curves: Curves, goal: Goal) -> Pause | None:
        """resume=True: the trial reached rung(s) at `step`: it goes on while it is in the top
        1/factor there; else it pauses at that rung."""
        rung = self.passed.get(trial.number, 0)
        while rung < len(self.steps) and step >= self.steps[rung]:
            value = curves.at(trial.number, self.steps[rung])
            if value is None:
                value = curves.at(trial.number, step)
            if value is None:
                return None
            self.at_rung[rung][trial.number] = value
            if trial.number not in self._top(rung, goal):
                return Pause(
                    f"asha: {goal.metric}={value:.6g} at rung step {self.steps[rung]} is not in the top "
                    f"1/{self.factor} of the {len(self.at_rung[rung])} trials there (yet): paused"
                )
            self.promoted[rung].add(trial.number)
            rung += 1
            self.passed[trial.number] = rung
        return None

    def _top(self, rung: int, goal: Goal) -> set[int]:
        ranked = sorted(self.at_rung[rung].items(), key=lambda item: goal.loss(item[1]))
        return {number for number, _ in ranked[: len(ranked) // self.factor]}

    def promotable(self, goal: Goal, paused: set[int]) -> list[tuple[int, float, int]]:
        """(rung, loss, trial) of the paused trials now in the top 1/factor of their rung."""
        out = []
        for rung in range(len(self.steps)):
            for number in self._top(rung, goal) & paused:
                if number not in self.promoted[rung]:
                    out.append((rung, goal.loss(self.at_rung[rung][number]), number))
        return out

    def best_paused(self, goal: Goal, paused: set[int]) -> tuple[int, float, int] | None:
        """The best paused trial of the highest rung that has one."""
        for rung in reversed(range(len(self.steps))):
            waiting = [(goal.loss(v), n) for n, v in self.at_rung[rung].items() if n in paused]
            if waiting:
                loss, number = min(waiting)
                return rung, loss, number
        return None

    def promote(self, rung: int, number: int) -> None:
        self.promoted[rung].add(number)
        self.passed[number] = rung + 1

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
        resume: bool = False,
    ) -> None:
        if not isinstance(resume, bool):
            raise ConfigurationError(f"early stopping: resume must be True or False, got {resume!r}")
        self.resume = resume
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

    def should_stop(self, study: StudyState, trial: Trial) -> str | Pause | None:
        value, _ = latest(trial, self.metric)
        if value is None or trial.last_step is None:
            return None
        if math.isnan(value):
            return f"{type(self).__name__.lower()}: {self.metric} is NaN at step {trial.last_step}"
        ladder = self._ladder(trial)
        rung = ladder.passed.get(trial.number, 0)
        if rung < len(ladder.steps) and trial.last_step >= ladder.steps[rung]:  # only at a rung: cheap otherwise
            self.curves.update(study)
            if self.resume:
                return ladder.arrive(trial, trial.last_step, self.curves, self.goal)
            return ladder.judge(trial, trial.last_step, self.curves, self.goal)
        return None

    def promote(self, study: StudyState, slots: int) -> list[int]:
        """resume=True: paused trials now in the top of their rung, the highest rung first; when no new
        trial may start, none runs and none completed, the best paused one of the highest rung."""
        paused = set(study.paused)
        if not self.resume or not paused or slots <= 0:
            return []
        found = [
            (rung, loss, number, ladder)
            for ladder in self.ladders
            for rung, loss, number in ladder.promotable(self.goal, paused)
        ]
        found.sort(key=lambda f: (-f[0], f[1]))
        chosen = found[:slots]
        spent = study.max_trials is not None and len(study.trials) >= study.max_trials
        if not chosen and spent and not study.running and not study.counts["completed"]:
            best = [(b, ladder) for ladder in self.ladders if (b := ladder.best_paused(self.goal, paused)) is not None]
            if best:
                (rung, loss, number), ladder = min(best, key=lambda b: (-b[0][0], b[0][1]))
                chosen = [(rung, loss, number, ladder)]
        for rung, _, number, ladder in chosen:
            ladder.promote(rung, number)
        return [number for _, _, number, _ in chosen]


def _dealt(shares: list[int]) -> list[int]:
    """A cycle of bracket indices, each `shares[b]` times, interleaved: every pick goes to the bracket
    furthest behind its share so far (so each bracket starts early)."""
    total, dealt, order = sum(shares), [0] * len(shares), []
    for i in range(1, total + 1):
        pick = max(range(len(shares)), key=lambda b: shares[b] * i / total - dealt[b])
        dealt[pick] += 1
        order.append(pick)
    return order


class Hyperband(ASHA):
    """Brackets of ASHA that start halving at different rungs, so some trials get a long run before
    any comparison, and the last runs every trial to the end. Trials are dealt to the brackets in
    Hyperband's proportions (most to the brackets that halve early). max_resource (default 100) sets
    how many brackets there are: floor(log_reduction_factor(max_resource / min_resource)) + 1."""

    def __init__(
        self,
        min_resource: int = 1,
        reduction_factor: int = 3,
        max_resource: int = 100,
        metric: str | None = None,
        mode: str | None = None,
        resume: bool = False,
    ) -> None:
        super().__init__(min_resource, reduction_factor, max_resource, metric, mode, resume)

    def _ladders(self) -> list[_Rungs]:
        assert self.max_resource is not None
        count = 1  # brackets s = 0 .. S with min_resource * factor**S <= max_resource (the last never halts)
        while self.min_resource * self.reduction_factor**count <= self.max_resource:
            count += 1
        # Hyperband's share of configurations per bracket (Li et al. 2018): ceil((S + 1) / (k + 1) * factor**k)
        # for the bracket that halves k times, so the early-halving brackets get most trials (27, 12, 6, 4
        # for four brackets at factor 3)
        shares = [math.ceil(count / (count - s) * self.reduction_factor ** (count - 1 - s)) for s in range(count)]
        self.order = _dealt(shares)
        return [_Rungs(self.min_resource, self.reduction_factor, s, self.max_resource) for s in range(count)]

    def bracket_of(self, number: int) -> int:
        """The bracket trial `number` runs in (by Hyperband's shares, interleaved)."""
        return self.order[number % len(self.order)]

    def _ladder(self, trial: Trial) -> _Rungs:
        return self.ladders[self.bracket_of(trial.number)]
