"""`auto`: picks the search for the study in front of it, and switches when the study outgrows it.

The rules (how they were chosen: docs/strategies.md, "auto"):

- several objectives, a conditional space, mostly categorical parameters, more than 20 parameters,
  or a budget above 1,000 trials: `bayesian` (TPE) from the start;
- otherwise `gp`, until `gp_trials` trials have finished (the GP's cost grows with the cube of the
  trials), then `bayesian`.

Both strategies see every finished trial from the first, so a switch loses nothing. The choice and
each switch are recorded with the reason: a note in the result and a `strategy_choice` event.
"""

from __future__ import annotations

from typing import Any

from hyperion_core import checks
from hyperion_core.models import Trial
from hyperion_core.params import Categorical
from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.state import StudyState

MAX_GP_PARAMS = 20
MAX_GP_BUDGET = 1_000


class AutoSearch(Strategy):
    """Chooses `gp` or `bayesian` per space, budget and objectives, and switches from `gp` to
    `bayesian` after `gp_trials` finished trials (default 300).

    gp_kwargs, bayesian_kwargs: arguments passed on to each (e.g. {"n_startup": 8})."""

    def __init__(
        self,
        gp_trials: int = 300,
        gp_kwargs: dict[str, Any] | None = None,
        bayesian_kwargs: dict[str, Any] | None = None,
    ) -> None:
        from hyperion_strategies.gp import GPSearch
        from hyperion_strategies.tpe import TPESearch

        self.gp_trials = checks.whole_number("auto: gp_trials", gp_trials, 0)
        self.engines: dict[str, Strategy] = {
            "gp": GPSearch(**(gp_kwargs or {})),
            "bayesian": TPESearch(**(bayesian_kwargs or {})),
        }
        self.current: str | None = None
        self.finished = 0

    def setup(self, study: StudyState) -> None:
        super().setup(study)
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
        categorical = sum(isinstance(p, Categorical) for p in params.values())
        budget = study.max_trials
        if study.multi_objective:
            return "bayesian", "several objectives (multi-objective TPE)"
        if study.space.conditions:
            return "bayesian", "a conditional space (tree-structured TPE)"
        if len(params) > MAX_GP_PARAMS:
            return "bayesian", f"{len(params)} parameters (more than {MAX_GP_PARAMS})"
        if categorical * 2 > len(params):
            return "bayesian", f"{categorical} of {len(params)} parameters are categorical"
        from hyperion_strategies.gp import MAX_ONE_HOT

        widest = max((len(p.options) for p in params.values() if isinstance(p, Categorical)), default=0)
        if widest > MAX_ONE_HOT:
            return "bayesian", f"a Choice of {widest} options (gp models at most {MAX_ONE_HOT} per Choice)"
        if budget is not None and budget > MAX_GP_BUDGET:
            return "bayesian", f"a budget of {budget} trials (more than {MAX_GP_BUDGET})"
        if self.finished >= self.gp_trials:
            return "bayesian", f"{self.finished} trials finished (gp stops at gp_trials={self.gp_trials})"
        size = f"{len(params)} parameter(s), {categorical} categorical"
        return "gp", f"{size}, budget {budget if budget is not None else 'open'}"

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        if self.current != "bayesian":  # bayesian is where auto ends: decided once it is chosen
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
