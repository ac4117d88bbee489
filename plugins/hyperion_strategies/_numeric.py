"""What `cmaes` and `local` share: one objective, the numeric parameters on the unit cube, and the
values already known (a point evaluated before is told, not run again)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hyperion_core.encoding import Encoding
from hyperion_core.errors import ConfigurationError
from hyperion_core.models import Trial, TrialState
from hyperion_core.protocols import Strategy
from hyperion_core.state import StudyState


class NumericSearch(Strategy):
    """A search over the numeric parameters for one objective (subclasses name themselves in `name`)."""

    name = "numeric"

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        if study.goal.several:
            raise ConfigurationError(f"{self.name} optimises one objective: use nsga2 or bayesian for several")
        self.encoding = Encoding(self.space)
        self.names = self.encoding.numeric
        self.np_rng = np.random.default_rng(self.rng.getrandbits(64))
        self.known: dict[tuple[Any, ...], float] = {}  # searched values evaluated -> loss (inf: failed, infeasible)
        self.best: tuple[float, dict[str, Any]] | None = None  # the best finite loss and its trial's params

    def _finished(self, trial: Trial) -> tuple[tuple[Any, ...], float] | None:
        """A finished trial recorded (known, best): its key and loss; None while it is not finished."""
        loss = self._loss(trial)
        if loss is None:
            return None
        key = self._key(trial.params)
        self.known[key] = loss
        if math.isfinite(loss) and (self.best is None or loss < self.best[0]):
            self.best = (loss, dict(trial.params))
        return key, loss

    def _prior_point(self, fill: np.ndarray) -> np.ndarray:
        """A start on the unit cube: each numeric parameter's prior where it has one, else `fill`'s value."""
        x = fill.copy()
        for j, name in enumerate(self.names):
            param = self.space.priors.get(name)
            if param is not None:
                x[j] = param.to_unit(param.prior)
        return x

    def _key(self, params: dict[str, Any]) -> tuple[Any, ...]:
        """The searched values (a trial's params also hold the space's fixed values; a proposal does not)."""
        searched = self.space.params
        return tuple(sorted((k, repr(v)) for k, v in params.items() if k in searched))

    def _loss(self, trial: Trial) -> float | None:
        """A finished trial's loss (lower is better); inf when failed, stopped or infeasible; None while
        it is not finished."""
        if trial.state is TrialState.COMPLETED:
            ok = trial.value is not None and math.isfinite(trial.value) and (trial.violation or 0) <= 0
            return self.study.goal.loss(trial.value) if ok and trial.value is not None else math.inf
        if trial.state in (TrialState.KILLED, TrialState.FAILED):
            return math.inf
        return None
