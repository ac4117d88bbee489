"""Population-based training (Jaderberg et al. 2017): a population of trials trains side by side; every
`perturbation_interval` steps a member pauses at its checkpoint and is compared with the others. One in
the bottom `quantile_fraction` is replaced: a new trial continues from the checkpoint of a member of the
top quantile (exploit) with that member's parameters perturbed, or resampled with probability
`resample_probability` (explore); the others continue as they are. A trial's `parent_id` is the member
it copied, so following the parents of a final trial gives its parameter schedule (the dashboard's
lineage view draws it).

The objective must save a checkpoint (ctx.save_checkpoint) and load it (ctx.load_checkpoint), and
report the metric every step; it trains to its own end (the final step), where the member completes.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from hyperion_core import checks
from hyperion_core.errors import ConfigurationError, SpaceError
from hyperion_core.goal import DIRECTIONS, Goal
from hyperion_core.models import Trial, TrialState
from hyperion_core.protocols import Kill, Proposal, Strategy
from hyperion_core.state import StudyState


class PBT(Strategy):
    """population_size: members trained side by side (default 8). perturbation_interval: steps between
    two comparisons (default 4). quantile_fraction: the share replaced and the share copied (default
    0.25). resample_probability: the chance a parameter is drawn afresh instead of perturbed (default
    0.25). spread: how far a perturbation moves a number, as a share of its range (default 0.2).
    metric, mode: what members are compared by (default: tune()'s)."""

    finite = True  # it ends when every member has trained to its end

    def __init__(
        self,
        population_size: int = 8,
        perturbation_interval: int = 4,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        spread: float = 0.2,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        self.population_size = checks.whole_number("pbt: population_size", population_size, 2)
        self.interval = checks.whole_number("pbt: perturbation_interval", perturbation_interval, 1)
        self.quantile = checks.fraction("pbt: quantile_fraction", quantile_fraction)
        if not 0 < self.quantile <= 0.5:
            raise ConfigurationError(f"pbt: quantile_fraction must be in (0, 0.5], got {quantile_fraction!r}")
        self.resample = checks.fraction("pbt: resample_probability", resample_probability)
        self.spread = checks.fraction("pbt: spread", spread)
        if mode is not None and mode not in DIRECTIONS:
            raise ConfigurationError(f"pbt: mode must be 'min' or 'max', got {mode!r}")
        self._metric, self._mode = metric, mode
        self.started = 0  # members started from scratch
        self.segment: dict[int, int] = {}  # trial number -> the step its current segment started after
        self.resumes: list[int] = []  # paused members to continue as they are
        self.exploits: deque[tuple[int, int]] = deque()  # (paused member to replace, member to copy)
        self.replaced: deque[tuple[int, str]] = deque()  # paused members to end (a Kill), with the reason
        self.exhausted = False

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.goal = Goal.of(self._metric or study.goal.metric, self._mode or study.goal.direction)

    # -- the population ----------------------------------------------------------------------------------
    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        out: list[Proposal] = []
        while len(out) < slots and self.started < self.population_size:
            self.started += 1
            out.append(Proposal(self.space.sample(self.rng), rationale="pbt: a new member of the population"))
        while len(out) < slots and self.exploits:
            victim, source = self.exploits.popleft()
            parent = study.trials[source]
            params = self._explore(parent.params)
            # the member it replaces ends now that its copy starts (a Kill at the next tick)
            self.replaced.append(
                (victim, f"pbt: in the bottom {self.quantile:g}; replaced by a copy of {parent.trial_id}")
            )
            out.append(
                Proposal(
                    params,
                    parent_id=parent.trial_id,
                    checkpoint_from=source,
                    rationale=(
                        f"pbt: replaces trial_{victim:04d} (bottom {self.quantile:g}); continues from "
                        f"{parent.trial_id}'s checkpoint at step {parent.last_step} with its parameters explored"
                    ),
                )
            )
        self._update_exhausted()
        return out

    def kills(self, study: StudyState) -> list[Kill]:
        out = [Kill(n, reason) for n, reason in self.replaced]
        self.replaced.clear()
        for trial in study.running.values():
            if trial.stop_requested or trial.last_step is None:
                continue
            start = self.segment.setdefault(trial.number, self._start_of(study, trial))
            if trial.last_step - start >= self.interval:
                out.append(Kill(trial.number, f"pbt: perturbation interval ({self.interval} steps)", pause=True))
        return out

    def promote(self, study: StudyState, slots: int) -> list[int]:
        """Paused members continue, the least advanced first, once every new member and every exploit
        has started: with fewer slots than members, each gets its fair share of steps."""
        if study.max_trials is not None and len(study.trials) >= study.max_trials:
            # no new trial may start (max_trials): a member waiting for its copy continues as it is
            self.resumes += [victim for victim, _ in self.exploits]
            self.exploits.clear()
            self.started = self.population_size
            self._update_exhausted()
        elif self.started < self.population_size or self.exploits:
            return []
        waiting = sorted((study.paused[n].last_step or 0, n) for n in self.resumes if n in study.paused)
        chosen = [n for _, n in waiting[:slots]]
        for number in chosen:
            self.resumes.remove(number)
            self.segment[number] = study.paused[number].last_step or 0
        return chosen

    def observe(self, trial: Trial) -> None:
        if trial.state is not TrialState.PAUSED:
            self._update_exhausted()
            return
        study = self.study
        ranked = self._ranked(study)
        numbers = [t.number for t in ranked]
        cut = max(1, int(len(ranked) * self.quantile)) if len(ranked) >= 2 else 0
        if cut and trial.number in numbers[len(numbers) - cut :]:
            # a top member at least as far as this one, where there is one: its copy repeats no epochs
            ahead = [n for n in numbers[:cut] if (study.trials[n].last_step or 0) >= (trial.last_step or 0)]
            source = self.rng.choice(ahead or numbers[:cut])
            if source != trial.number:
                self.exploits.append((trial.number, source))
                self._update_exhausted()
                return
        self.resumes.append(trial.number)

    # -- inside ------------------------------------------------------------------------------------------
    def _ranked(self, study: StudyState) -> list[Trial]:
        """The live members (running or paused, not being replaced) with a value, the best first."""
        leaving = {victim for victim, _ in self.exploits}
        live = [t for t in [*study.running.values(), *study.paused.values()] if t.number not in leaving]
        valued = [(self._value(t), t) for t in live]
        return [t for v, t in sorted(((v, t) for v, t in valued if v is not None), key=lambda p: self.goal.loss(p[0]))]

    def _value(self, trial: Trial) -> float | None:
        value = checks.as_float((trial.last_report or {}).get(self.goal.metric))
        return value if value is not None and value == value else None

    def _start_of(self, study: StudyState, trial: Trial) -> int:
        """The step after which a trial's first segment started: its source's (exploit), else -1."""
        if trial.checkpoint_from is not None:
            source = study.trials[trial.checkpoint_from]
            return source.last_step if source.last_step is not None else -1
        return -1

    def _explore(self, params: dict[str, Any]) -> dict[str, Any]:
        new = self.space.perturb(params, self.spread, self.rng)
        if self.resample:
            fresh = self.space.sample(self.rng)
            mixed = {k: fresh[k] if k in fresh and self.rng.random() < self.resample else v for k, v in new.items()}
            try:
                return self.space.validate(mixed)
            except SpaceError:  # a conditional space where a resampled choice opens other parameters
                return new
        return new

    def _update_exhausted(self) -> None:
        self.exhausted = self.started >= self.population_size and not self.exploits
