"""`auto`: picks the search for the study in front of it, and switches when the study outgrows it.

The rules (how they were chosen: docs/strategies.md, "auto"):

- several objectives, a conditional space, mostly categorical parameters, more than 20 parameters,
  or a budget above 1,000 trials with categorical parameters: `bayesian` (TPE) from the start;
- once an early-stopping policy stops a trial: `bayesian` (only TPE learns from stopped trials, ranked
  by how far they got; gp models finished ones only);
- numeric parameters only: `gp` to find the region, then a local search from its best trial once
  `local_after` of the budget is spent, or after `gp_trials` trials (the GP's cost grows with the cube
  of the trials): `local` (a trust region, one trial at a time) or, with trials running beside it,
  `cmaes`. The local phase finishes the ill-conditioned and valley-shaped problems a global model
  keeps exploring;
- otherwise `gp`, then `bayesian` after `gp_trials` trials.

Every strategy sees every finished trial from the first, so a switch loses nothing. The choice and
each switch are recorded with the reason: a note in the result and a `strategy_choice` event.
"""

from __future__ import annotations

import math
from typing import Any

from hyperion_core import checks
from hyperion_core.encoding import is_categorical
from hyperion_core.errors import ConfigurationError
from hyperion_core.models import Trial
from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.state import StudyState

MAX_GP_PARAMS = 20
MAX_GP_BUDGET = 1_000


class AutoSearch(Strategy):
    """Chooses `gp`, a local search (`local`, `cmaes`) or `bayesian` per space, budget, objectives and
    slots (see the module's text).

    gp_trials: finished trials after which `gp` hands over at the latest (default 300).
    local: the local phase of a study of numeric parameters: "local" (a trust region), "cmaes", or
      "auto" (the default): local when the study runs one trial at a time, cmaes with several running.
    local_after: the fraction of `max_trials` after which that phase starts (default 0.5; 1.0:
      never before gp_trials).
    gp_kwargs, local_kwargs, bayesian_kwargs: arguments passed on to each (e.g. {"n_startup": 8})."""

    def __init__(
        self,
        gp_trials: int = 300,
        local: str = "auto",
        local_after: float = 0.5,
        gp_kwargs: dict[str, Any] | None = None,
        local_kwargs: dict[str, Any] | None = None,
        bayesian_kwargs: dict[str, Any] | None = None,
    ) -> None:
        from hyperion_strategies.cmaes import CMAES
        from hyperion_strategies.gp import GPSearch
        from hyperion_strategies.local import LocalSearch
        from hyperion_strategies.tpe import TPESearch

        self.gp_trials = checks.whole_number("auto: gp_trials", gp_trials, 0)
        self.local_after = checks.fraction("auto: local_after", local_after)
        if local not in ("auto", "local", "cmaes"):
            raise ConfigurationError(f"auto: local must be one of auto, local, cmaes, got {local!r}")
        if local == "auto" and local_kwargs:
            raise ConfigurationError(
                "auto: local_kwargs are for one local search: name it, local='local' (radius) or local='cmaes' "
                "(sigma0, popsize, restarts)"
            )
        self.local = local
        self.tpe = TPESearch(**(bayesian_kwargs or {}))
        self.engines: dict[str, Strategy] = {
            "gp": GPSearch(**(gp_kwargs or {})),
            "local": LocalSearch(**(local_kwargs or {}) if local == "local" else {}),
            "cmaes": CMAES(**(local_kwargs or {}) if local == "cmaes" else {}),
            "bayesian": self.tpe,
        }
        self.current: str | None = None
        self.finished = 0

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        if study.multi_objective:
            del self.engines["local"], self.engines["cmaes"]  # one objective only; never chosen for several
        for engine in self.engines.values():
            engine.setup(study)

    def observe(self, trial: Trial) -> None:
        if trial.state.finished:
            self.finished += 1
        for engine in self.engines.values():
            engine.observe(trial)

    def choose(self, study: StudyState) -> tuple[str, str]:
        """The strategy for this study and why, in words."""
        params = study.space.params
        categorical = sum(is_categorical(p) for p in params.values())  # an ordinal Choice counts as a number
        budget = study.max_trials
        if study.multi_objective:
            return "bayesian", "several objectives (multi-objective TPE)"
        if study.space.conditions:
            return "bayesian", "a conditional space (tree-structured TPE)"
        stopped = self.tpe.stopped
        if stopped:
            return "bayesian", f"{stopped} trial(s) stopped early: TPE learns from them by how far they got"
        if len(params) > MAX_GP_PARAMS:
            return "bayesian", f"{len(params)} parameters (more than {MAX_GP_PARAMS})"
        if categorical * 2 > len(params):
            return "bayesian", f"{categorical} of {len(params)} parameters are categorical"
        from hyperion_strategies.gp import MAX_ONE_HOT

        widest = max((len(p.options) for p in params.values() if is_categorical(p)), default=0)
        if widest > MAX_ONE_HOT:
            return "bayesian", f"a Choice of {widest} options (gp models at most {MAX_ONE_HOT} per Choice)"
        if categorical and budget is not None and budget > MAX_GP_BUDGET:
            return "bayesian", f"a budget of {budget} trials (more than {MAX_GP_BUDGET})"
        if not categorical:
            switch = min(self.gp_trials, math.ceil(self.local_after * budget) if budget is not None else self.gp_trials)
            if self.finished >= switch:
                why = f"after {switch} trials" + (
                    f" ({self.local_after:g} of the budget)" if switch < self.gp_trials else ""
                )
                phase = self.local
                if phase == "auto":  # a trust region runs one trial at a time; CMA-ES fills every slot
                    phase = "cmaes" if study.pending or study.joined else "local"
                    why += ", trials running beside it" if phase == "cmaes" else ", one trial at a time"
                return phase, f"numeric parameters only: a local search from gp's best {why}"
        elif self.finished >= self.gp_trials:
            return "bayesian", f"{self.finished} trials finished (gp stops at gp_trials={self.gp_trials})"
        size = f"{len(params)} parameter(s), {categorical} categorical"
        return "gp", f"{size}, budget {budget if budget is not None else 'open'}"

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        if self.current not in ("bayesian", "local", "cmaes"):  # where auto ends: decided once chosen
            name, why = self.choose(study)
            if name != self.current:
                before, self.current = self.current, name
                text = f"auto: {name} ({why})" if before is None else f"auto: switched from {before} to {name} ({why})"
                study.note(text)
                study.record("strategy_choice", {"strategy": name, "previous": before, "reason": why})
        return self.engines[self.current or "bayesian"].propose(study, slots)

    def close(self, study: StudyState) -> None:
        for engine in self.engines.values():
            engine.close(study)
