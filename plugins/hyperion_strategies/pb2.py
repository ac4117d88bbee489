"""Population-based bandits (PB2, Parker-Holder et al. 2020): population-based training whose explore step
is a GP bandit instead of a random perturbation. Every segment a member trains (from one pause to the
next) is a data point: where it was (its numeric parameters in the unit cube, and the step it reached)
and how much its metric improved over the segment. A replaced member's copy gets the parameters with the
highest upper confidence bound of a Gaussian process fitted to those points, at the current step: the
parameters that improved members most lately, and those the population has not tried. Categorical
parameters follow pbt's explore. Until a few segments are known (`min_segments`), it explores as pbt.
"""

from __future__ import annotations

import math
from typing import Any

from hyperion_core import checks
from hyperion_core.encoding import Encoding
from hyperion_core.models import Trial, TrialState
from hyperion_core.protocols import Kill
from hyperion_core.state import StudyState
from hyperion_strategies.pbt import PBT

#: Candidates the acquisition is evaluated at (random points and neighbours of the parent).
CANDIDATES = 512
#: The most recent segments the GP is fitted to (a bounded cost per decision).
MAX_POINTS = 200


class PB2(PBT):
    """The arguments of pbt (resample_probability and spread apply to categorical parameters only), and:
    kappa: the weight of the GP's uncertainty in the bound (default 2). min_segments: segments to know
    before the GP decides (default 4)."""

    def __init__(
        self,
        population_size: int = 8,
        perturbation_interval: int = 4,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        spread: float = 0.2,
        metric: str | None = None,
        mode: str | None = None,
        kappa: float = 2.0,
        min_segments: int = 4,
    ) -> None:
        super().__init__(
            population_size, perturbation_interval, quantile_fraction, resample_probability, spread, metric, mode
        )
        self.kappa = checks.fraction("pb2: kappa", kappa, 0.0, 100.0)
        self.min_segments = checks.whole_number("pb2: min_segments", min_segments, 2)
        self.points: list[tuple[list[float], float, float]] = []  # (units, step, improvement)
        self.start_value: dict[int, float] = {}  # trial -> its metric when its current segment began

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.encoding = Encoding(study.space)

    def observe(self, trial: Trial) -> None:
        if trial.state is TrialState.PAUSED:
            value = self._value(trial)
            begun = self.start_value.get(trial.number)
            if value is not None and begun is not None and trial.last_step is not None:
                gain = value - begun if self.goal.direction == "max" else begun - value
                units = self.encoding.units(trial.params)
                self.points.append((units, float(trial.last_step), gain))
                del self.points[:-MAX_POINTS]
            if value is not None:
                self.start_value[trial.number] = value  # its next segment starts here
        super().observe(trial)

    def kills(self, study: StudyState) -> list[Kill]:
        for trial in study.running.values():  # a copy's first segment starts at its source's value
            source = trial.checkpoint_from
            if source is not None and trial.number not in self.start_value and study.history.get(trial.number):
                first = study.history[trial.number][0][0]
                value = checks.as_float(study.metric_value(source, first - 1, self.goal.metric))
                if value is not None:
                    self.start_value[trial.number] = value
        return super().kills(study)

    def _explore(self, params: dict[str, Any]) -> dict[str, Any]:
        new = super()._explore(params)  # categorical parameters (and the fallback) as pbt does
        if len(self.points) < self.min_segments or not self.encoding.numeric:
            return new
        import numpy as np

        from hyperion_strategies._gp_model import GP

        units = np.array([p[0] for p in self.points])
        steps = np.array([p[1] for p in self.points])
        gains = np.array([p[2] for p in self.points])
        top = max(steps.max(), 1.0)
        x = np.column_stack([steps / top, units])
        spread = gains.std()
        if not math.isfinite(spread) or spread <= 0:
            return new
        y = (gains - gains.mean()) / spread
        try:
            gp = GP(x, y)
        except (np.linalg.LinAlgError, ValueError):
            return new
        rng = np.random.default_rng(self.rng.randrange(2**32))
        here = np.array(self.encoding.units(params))
        near = np.clip(here + rng.normal(0, self.spread, (CANDIDATES // 4, len(here))), 0, 1)
        candidates = np.vstack([rng.random((CANDIDATES - len(near), len(here))), near, here[None, :]])
        mean, sd = gp.predict(np.column_stack([np.full(len(candidates), 1.0), candidates]))
        best = candidates[int(np.argmax(mean + self.kappa * sd))]
        space = self.space
        for name, u in zip(self.encoding.numeric, best):
            if name in new:
                new[name] = space.params[name].from_unit(float(u))
        return new
