"""`cmaes`: the covariance matrix adaptation evolution strategy on the numeric parameters.

CMA-ES (Hansen's tutorial, arXiv:1604.00772) samples a generation of points from a Gaussian on the unit
cube (log parameters in log space), and moves the Gaussian's mean, step size and covariance towards the
better half of it. It learns the problem's scaling and correlations, so ill-conditioned and valley-shaped
problems that a global model keeps exploring (bent cigars, Rosenbrock) converge; it needs budgets of
tens of trials per parameter. `auto` hands a continuous study to it once `gp` has found the region.

- Warm start: trials finished before it proposes (a resumed study, or `gp`'s under `auto`) give the mean
  (the best trial), the step size and a per-parameter scale (the spread of the best trials).
- Restarts (IPOP): when the Gaussian has collapsed or the values stopped moving, it starts again from a
  random point with twice the population.
- A point whose parameters were already evaluated (Int parameters at a small step size) is told its
  known value without running again; a point outside the parameter constraints ranks last, unrun.
- Failed, stopped and infeasible trials rank last. Categorical parameters come from the best trial
  (a fresh random draw one time in five). One objective only.
- Concurrent slots: a generation is the first `popsize` results of points drawn from one Gaussian;
  points asked beyond it come from the same Gaussian and are kept in the history only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hyperion_core import checks
from hyperion_core.models import Trial
from hyperion_core.protocols import Proposal
from hyperion_core.state import StudyState
from hyperion_strategies._numeric import NumericSearch

#: Redraws of a point that falls outside the unit cube before it is clipped onto it.
REDRAWS = 10
#: Points drawn for one slot whose parameters were all evaluated before a restart is forced.
MAX_KNOWN = 50


class Gaussian:
    """One CMA-ES run's search distribution: mean, step size, covariance and evolution paths."""

    def __init__(self, mean: np.ndarray, sigma: float, scales: np.ndarray, popsize: int) -> None:
        n = len(mean)
        self.n, self.mean, self.sigma, self.popsize = n, mean.copy(), float(sigma), popsize
        mu = popsize // 2
        raw = math.log((popsize + 1) / 2) - np.log(np.arange(1, popsize + 1))  # the better half positive
        positive, negative = raw[:mu], raw[mu:]
        self.mueff = float(positive.sum() ** 2 / (positive**2).sum())
        mueff_neg = float(negative.sum() ** 2 / (negative**2).sum()) if len(negative) else 0.0
        self.cs = (self.mueff + 2) / (n + self.mueff + 5)
        self.ds = 1 + 2 * max(0.0, math.sqrt((self.mueff - 1) / (n + 1)) - 1) + self.cs
        self.cc = (4 + self.mueff / n) / (n + 4 + 2 * self.mueff / n)
        self.c1 = 2 / ((n + 1.3) ** 2 + self.mueff)
        self.cmu = min(1 - self.c1, 2 * (self.mueff - 2 + 1 / self.mueff) / ((n + 2) ** 2 + self.mueff))
        # active CMA: the worse half's weights are negative (they shrink the covariance along bad steps)
        shrink = min(
            1 + self.c1 / self.cmu, 1 + 2 * mueff_neg / (self.mueff + 2), (1 - self.c1 - self.cmu) / (n * self.cmu)
        )
        self.weights = np.concatenate([positive / positive.sum(), shrink * negative / np.abs(negative).sum()])
        self.mu = mu
        self.chi = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        self.cov = np.diag(scales**2)
        self.ps, self.pc = np.zeros(n), np.zeros(n)
        self.generation = 0
        self._decompose()

    def _decompose(self) -> None:
        self.cov = (self.cov + self.cov.T) / 2
        eigenvalues, self.basis = np.linalg.eigh(self.cov)
        self.d = np.sqrt(np.maximum(eigenvalues, 1e-20))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """A point in the unit cube: redrawn when outside, clipped after REDRAWS tries."""
        for _ in range(REDRAWS):
            x: np.ndarray = self.mean + self.sigma * (self.basis @ (self.d * rng.standard_normal(self.n)))
            if ((x >= 0) & (x <= 1)).all():
                return x
        clipped: np.ndarray = np.clip(x, 0.0, 1.0)
        return clipped

    def update(self, xs: list[np.ndarray], losses: list[float]) -> None:
        """One generation told: the means, paths, covariance and step size move (rank-one + rank-mu)."""
        order = np.argsort(losses, kind="stable")
        ys = (np.array([xs[i] for i in order]) - self.mean) / self.sigma
        yw = self.weights[: self.mu] @ ys[: self.mu]
        self.mean = self.mean + self.sigma * yw
        inv_sqrt = self.basis @ np.diag(1 / self.d) @ self.basis.T
        self.ps = (1 - self.cs) * self.ps + math.sqrt(self.cs * (2 - self.cs) * self.mueff) * (inv_sqrt @ yw)
        self.generation += 1
        norm = float(np.linalg.norm(self.ps)) / math.sqrt(1 - (1 - self.cs) ** (2 * self.generation))
        hs = 1.0 if norm < (1.4 + 2 / (self.n + 1)) * self.chi else 0.0
        self.pc = (1 - self.cc) * self.pc + hs * math.sqrt(self.cc * (2 - self.cc) * self.mueff) * yw
        # a negative weight is rescaled by the step's Mahalanobis length (the covariance stays positive)
        lengths = ((ys @ inv_sqrt) ** 2).sum(axis=1)
        w = np.where(self.weights >= 0, self.weights, self.weights * self.n / np.maximum(lengths, 1e-20))
        rank_mu = (ys.T * w) @ ys
        lost = (1 - hs) * self.cc * (2 - self.cc)  # the variance the rank-one path did not carry
        self.cov = (
            (1 + self.c1 * lost - self.c1 - self.cmu * float(self.weights.sum())) * self.cov
            + self.c1 * np.outer(self.pc, self.pc)
            + self.cmu * rank_mu
        )
        self.sigma *= math.exp(min(1.0, (self.cs / self.ds) * (float(np.linalg.norm(self.ps)) / self.chi - 1)))
        self._decompose()

    def collapsed(self) -> str | None:
        """Why this run should stop (the tutorial's tolx and condition tests), or None."""
        if self.sigma * float(self.d.max()) < 1e-10:
            return "its step size collapsed"
        if float(self.d.max() / self.d.min()) ** 2 > 1e14:
            return "its covariance is degenerate"
        return None


class CMAES(NumericSearch):
    """CMA-ES with IPOP restarts on the numeric parameters (one objective).

    sigma0: the first step size, a fraction of each parameter's (unit) range (default 0.3; a warm start
      takes it from the best trials' spread).
    popsize: points per generation (default 4 + 3 ln(number of numeric parameters)).
    restarts: start again from a random point with twice the population when a run has converged
      (default True).
    """

    def __init__(self, sigma0: float = 0.3, popsize: int | None = None, restarts: bool = True) -> None:
        self.sigma0 = checks.fraction("cmaes: sigma0 (a fraction of each range)", sigma0, 1e-6, 1.0)
        self.popsize = checks.whole_number("cmaes: popsize", popsize, 2, optional=True)
        self.restarts = bool(restarts)

    name = "cmaes"

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.history: list[tuple[np.ndarray, float, dict[str, Any]]] = []  # (unit point, loss, params)
        self.asked: dict[tuple[Any, ...], list[np.ndarray]] = {}  # this generation's points still running
        self.told: list[tuple[np.ndarray, float]] = []
        self.run: Gaussian | None = None
        self.runs = 0
        self.lam = self.popsize or 4 + int(3 * math.log(max(1, len(self.names))))  # doubled at each restart
        self.recent: list[float] = []  # each generation's best loss in this run (the flat-values test)

    def observe(self, trial: Trial) -> None:
        if (finished := self._finished(trial)) is None:
            return
        key, loss = finished
        x = np.array(self.encoding.units(trial.params))
        self.history.append((x, loss, dict(trial.params)))
        points = self.asked.get(key)
        if points:
            x = points.pop()
            if not points:
                del self.asked[key]
            self._tell(x, loss)

    def _tell(self, x: np.ndarray, loss: float) -> None:
        self.told.append((x, loss))
        if self.run is not None and len(self.told) >= self.lam:
            xs, losses = zip(*self.told[: self.lam])
            self.told, self.asked = [], {}  # points still running were drawn from the old Gaussian
            self.run.update(list(xs), list(losses))
            finite = [v for v in losses if math.isfinite(v)]
            self.recent.append(min(finite) if finite else math.inf)
            if self.restarts and (why := self._stale()) is not None:
                self._restart(why)

    def _stale(self) -> str | None:
        assert self.run is not None
        if (why := self.run.collapsed()) is not None:
            return why
        window = 10 + math.ceil(30 * len(self.names) / self.lam)
        last = [v for v in self.recent[-window:] if math.isfinite(v)]
        if len(self.recent) >= window and last and max(last) - min(last) <= 1e-12 * max(1.0, abs(min(last))):
            return "its values stopped moving"
        return None

    def _restart(self, why: str) -> None:
        self.lam *= 2
        self.run = Gaussian(self.np_rng.random(len(self.names)), self.sigma0, np.ones(len(self.names)), self.lam)
        self.recent = []
        self.runs += 1
        self.study.note(f"cmaes: restart {self.runs} with population {self.lam} ({why})")

    def _start(self) -> None:
        """The first Gaussian: at the best trial so far, scaled by the best trials' spread; at a random
        point with sigma0 without finished trials."""
        n = len(self.names)
        done = sorted((h for h in self.history if math.isfinite(h[1])), key=lambda h: h[1])
        if not done:  # a random point, or the priors where given
            self.run = Gaussian(self._prior_point(self.np_rng.random(n)), self.sigma0, np.ones(n), self.lam)
            return
        top = np.array([h[0] for h in done[: max(self.lam, n + 1)]])
        spread = np.sqrt(((top - top[0]) ** 2).mean(axis=0)) if len(top) > 1 else np.full(n, self.sigma0)
        sigma = float(np.clip(np.exp(np.log(np.maximum(spread, 1e-3)).mean()), 0.01, self.sigma0))
        scales = np.clip(spread / sigma, 0.3, 3.0)
        self.run = Gaussian(top[0], sigma, scales, self.lam)

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        if not self.names:  # nothing numeric to move: random draws
            return [Proposal(self.space.sample(self.rng)) for _ in range(slots)]
        if self.run is None:
            self._start()
        out = []
        for _ in range(slots):
            out.append(Proposal(self._next()))
        return out

    def _next(self) -> dict[str, Any]:
        for _ in range(MAX_KNOWN):
            assert self.run is not None
            x = self.run.draw(self.np_rng)
            params = self._decode(x)
            key = self._key(params)
            if key in self.known:  # evaluated before: its value is told without a trial
                self._tell(x, self.known[key])
                continue
            if not self.space.allows(params):  # outside the parameter constraints: ranks last, never runs
                self.known[key] = math.inf
                self._tell(x, math.inf)
                continue
            if key in self.asked:  # running now: a second point there would be wasted
                continue
            self.asked.setdefault(key, []).append(x)
            return params
        if self.restarts:
            self._restart("its points were all evaluated before")
        return self.space.sample(self.rng)

    def _decode(self, x: np.ndarray) -> dict[str, Any]:
        if self.best is not None and self.rng.random() >= 0.2:
            base = dict(self.best[1])
        else:
            base = self.space.sample(self.rng)
        params = self.space.params
        for j, name in enumerate(self.names):
            if name in base:  # active here (a conditional space)
                base[name] = params[name].from_unit(float(x[j]))
        return {name: base[name] for name in params if name in base}
