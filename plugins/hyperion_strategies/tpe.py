"""`bayesian`: a multivariate Tree-structured Parzen Estimator on numpy.

Completed trials are split into the best `gamma` share ("good") and the rest ("bad"). Each set gets
a kernel density over the unit cube (Gaussian kernels, truncated to [0, 1], for Float and Int,
log-scaled ones in log space; categorical kernels for Choice and Bool), jointly over all parameters.
Candidates drawn from the good density are scored by log good(x) - log bad(x); the best is proposed.
Trials still running count as bad points while the next ones are proposed (a constant liar), so
parallel slots spread out. Trials an early-stopping policy stopped rank after the finished ones, by
how far they got and then by their last report (as Optuna's TPE does): under ASHA the good set is the
finished and the furthest-promoted trials. Failed trials, and stopped ones with no report, count as
bad points: they never attract proposals and push later ones away from regions that fail.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hyperion_core.encoding import Encoding
from hyperion_core.errors import ConfigurationError
from hyperion_core.models import Trial, TrialState
from hyperion_core.outcome import reported_value
from hyperion_core.params import PRIOR_BETA
from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.space import Choice, Int
from hyperion_core.state import StudyState

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _erf(x: np.ndarray) -> np.ndarray:
    """Vectorised erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): math.erf per element costs
    a Python call per kernel and dimension, which dominated the proposal time at 1000 trials."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    result: np.ndarray = sign * (1.0 - poly * np.exp(-a * a))
    return result


#: A kernel over an Int or an ordinal Choice is never narrower than this share of one value's width on
#: the unit interval: with the Scott-like width alone (chosen on BBOB's Floats) the good density of a
#: parameter of five values sat on one value and never tried its neighbours. Chosen on the ten LCBench
#: development tasks (10 seeds; 0, 0.5, 1): 0.5 (docs/benchmarks.md); Float parameters are unchanged.
VALUE_SHARE = 0.5

#: The kernel width factor (chosen on BBOB, docs/strategies.md) and the one once an early-stopping policy
#: stops trials: there the good set is a few finished trials among many stopped ones, and narrow kernels
#: spent the budget on near-copies of the first finished leaders (chosen on the ten LCBench tasks).
BANDWIDTH = 0.25
STOPPED_BANDWIDTH = 2.0

#: The good share (gamma), and the one with RUNNING or more trials out in RUNNING_PARAMS or more parameters:
#: a tighter good set wins back part of what the running trials' missing results cost. Chosen on BBOB
#: (instances 1-5; 2, 4, 16 slots; d = 2 to 20): it hurt at 2 slots and d <= 3 (docs/benchmarks.md).
GAMMA = 0.1
RUNNING_GAMMA = 0.05
RUNNING = 3
RUNNING_PARAMS = 5


def _step(param: Any) -> float:
    """The narrowest kernel for a parameter of few values (an Int, an ordinal Choice; 0 for a Float)."""
    if isinstance(param, Choice):
        return VALUE_SHARE / len(param.options)
    if isinstance(param, Int):
        return VALUE_SHARE / float(param.high - param.low + 1)
    return 0.0


class _Points:
    """Encoded observations, grown in place (amortised O(1) per trial, no re-encoding)."""

    def __init__(self, n_num: int, n_cat: int) -> None:
        self.num = np.empty((64, n_num))
        self.cat = np.empty((64, n_cat), dtype=np.int64)
        self.loss = np.empty(64)
        self.progress = np.empty(64)
        self.size = 0

    def add(self, num: list[float], cat: list[int], loss: float, progress: float = math.inf) -> None:
        if self.size == len(self.loss):
            self.num = np.concatenate([self.num, np.empty_like(self.num)])
            self.cat = np.concatenate([self.cat, np.empty_like(self.cat)])
            self.loss = np.concatenate([self.loss, np.empty_like(self.loss)])
            self.progress = np.concatenate([self.progress, np.empty_like(self.progress)])
        self.num[self.size], self.cat[self.size], self.loss[self.size] = num, cat, loss
        self.progress[self.size] = progress
        self.size += 1

    def ranked(self, rows: np.ndarray) -> np.ndarray:
        """`rows` best first: finished trials by loss, then stopped ones by how far they got, then loss."""
        return rows[np.lexsort((self.loss[rows], -self.progress[rows]))]


class _Density:
    """A weighted mixture of product kernels over the encoded space, plus a uniform prior."""

    def __init__(
        self,
        num: np.ndarray,
        cat: np.ndarray,
        sizes: list[int],
        prior_weight: float,
        bandwidth: float,
        floors: np.ndarray | None = None,
    ) -> None:
        n, d = num.shape
        self.num, self.cat, self.sizes = num, cat, sizes
        self.log_w = np.log(np.full(n + 1, 1.0 / (n + prior_weight)))
        self.log_w[-1] = math.log(prior_weight / (n + prior_weight))  # the last component is the prior
        # Scott-like width that narrows as the set grows, never below a floor that keeps exploring; a
        # dimension of few values (an Int, an ordinal Choice) never narrower than one value's share.
        self.sigma = np.full(d, min(1.0, max(bandwidth * 0.2 * max(n, 1) ** (-1.0 / (d + 4)), 0.01)))
        if floors is not None:
            self.sigma = np.maximum(self.sigma, floors)
        # Mass of each kernel inside [0, 1] (the truncation), computed once per component and dimension.
        if n and d:
            lo = (0.0 - num) / (self.sigma * _SQRT2)
            hi = (1.0 - num) / (self.sigma * _SQRT2)
            mass = 0.5 * (_erf(hi) - _erf(lo))
            self.log_mass = np.log(np.maximum(mass, 1e-12)).sum(axis=1)
        else:
            self.log_mass = np.zeros(n)
        # Categorical kernels: most mass on the component's own option, the rest spread evenly.
        self.cat_keep = [max(0.5, 1.0 - (k - 1) / (k + n)) if k > 1 else 1.0 for k in sizes]

    def sample(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        n, d = self.num.shape
        comp = rng.choice(n + 1, size=count, p=np.exp(self.log_w))
        from_prior = comp == n
        num = np.empty((count, d))
        kern = comp[~from_prior]
        if len(kern):
            centre = self.num[kern]
            draw = centre + rng.standard_normal(centre.shape) * self.sigma
            for _ in range(8):  # resample what fell outside the box (a truncated normal, almost exactly)
                outside = (draw < 0) | (draw > 1)
                if not outside.any():
                    break
                redraw = centre + rng.standard_normal(centre.shape) * self.sigma
                draw = np.where(outside, redraw, draw)
            num[~from_prior] = np.clip(draw, 0.0, 1.0)
        num[from_prior] = rng.random((int(from_prior.sum()), d))
        cat = np.empty((count, len(self.sizes)), dtype=np.int64)
        for j, k in enumerate(self.sizes):
            own = np.where(from_prior, rng.integers(0, k, count), self.cat[np.minimum(comp, n - 1), j] if n else 0)
            keep = rng.random(count) < self.cat_keep[j]
            other = rng.integers(0, k, count)
            cat[:, j] = np.where(from_prior | keep, own, other)
        return num, cat

    def log_pdf(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """Log density at each candidate: a (candidates x components) matrix built with two matrix
        products (squared distances, categorical matches), then a log-sum-exp over components."""
        n, d = self.num.shape
        prior = self.log_w[n] - sum(math.log(k) for k in self.sizes)  # uniform: 1 on the cube, 1/k per option
        if not n:
            return np.full(len(num), prior)
        # distances in units of each dimension's width (one product; the widths differ only by floors)
        mine, theirs = num / self.sigma, self.num / self.sigma
        sq = (mine**2).sum(axis=1)[:, None] + (theirs**2).sum(axis=1)[None, :] - 2.0 * mine @ theirs.T
        terms = -0.5 * np.maximum(sq, 0.0)
        terms += self.log_w[:n] - self.log_mass - (d * _LOG_SQRT_2PI + float(np.log(self.sigma).sum()))
        if self.sizes:
            mine, theirs, base = self._categorical_codes(cat)
            terms += base + mine @ theirs.T
        top = np.maximum(terms.max(axis=1), prior)
        density: np.ndarray = top + np.log(np.exp(terms - top[:, None]).sum(axis=1) + np.exp(prior - top))
        return density

    def _categorical_codes(self, cat: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """One-hot codes such that mine @ theirs.T adds, per matching option, log(keep) - log(other)."""
        offsets = np.cumsum([0, *self.sizes[:-1]])
        total = sum(self.sizes)
        mine = np.zeros((len(cat), total))
        theirs = np.zeros((len(self.cat), total))
        base = 0.0
        for j, k in enumerate(self.sizes):
            keep = self.cat_keep[j]
            other = math.log((1 - keep) / (k - 1)) if k > 1 else 0.0
            base += other
            mine[np.arange(len(cat)), offsets[j] + cat[:, j]] = 1.0
            theirs[np.arange(len(self.cat)), offsets[j] + self.cat[:, j]] = math.log(keep) - other
        return mine, theirs, base


class TPESearch(Strategy):
    """Tree-structured Parzen Estimator.

    n_startup: random trials before the model is used (default 10).
    gamma: share of the trials that form the "good" density (at least 1, at most 25): the best finished
      ones, then those stopped early by how far they got, then by their last report. Default 0.1, and
      0.05 with five parameters or more and one objective while three or more other trials are running
      and none has been stopped early (RUNNING_GAMMA).
    n_candidates: points drawn from the good density per proposal; more exploits harder (default 64).
    bandwidth: kernel width factor; smaller is greedier (default 0.25, and 2.0 once an early-stopping
      policy has stopped a trial: see STOPPED_BANDWIDTH).
    prior_weight: weight of the uniform prior component in each density (default 2.0).

    The defaults were chosen on the whole BBOB suite (24 functions, dimensions 2, 5 and 10, budgets 50
    to 200) with benchmarks/sweep.py; docs/strategies.md has the figures.
    """

    def __init__(
        self,
        n_startup: int = 10,
        gamma: float | None = None,
        n_candidates: int = 64,
        bandwidth: float | None = None,
        prior_weight: float = 2.0,
    ) -> None:
        if not isinstance(n_startup, int) or n_startup < 1:
            raise ConfigurationError(f"bayesian: n_startup must be a whole number >= 1, got {n_startup!r}")
        if gamma is not None and not 0 < gamma < 1:
            raise ConfigurationError(f"bayesian: gamma must be between 0 and 1, got {gamma!r}")
        if not isinstance(n_candidates, int) or n_candidates < 1:
            raise ConfigurationError(f"bayesian: n_candidates must be a whole number >= 1, got {n_candidates!r}")
        if (bandwidth is not None and bandwidth <= 0) or prior_weight <= 0:
            raise ConfigurationError("bayesian: bandwidth and prior_weight must be > 0")
        self.n_startup, self.fixed_gamma, self.n_candidates = n_startup, gamma, n_candidates
        self.fixed_bandwidth, self.prior_weight = bandwidth, prior_weight

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.encoding = Encoding(self.space)
        self.num_names, self.cat_names, self.cat_sizes = (
            self.encoding.numeric,
            self.encoding.categorical,
            self.encoding.sizes,
        )
        self.np_rng = np.random.default_rng(self.rng.getrandbits(64))
        self.floors = np.array([_step(self.space.params[name]) for name in self.num_names])
        self.done = _Points(len(self.num_names), len(self.cat_names))
        self.rejected = _Points(len(self.num_names), len(self.cat_names))
        self.goal = study.goal
        # several objectives (MOTPE-style): good and bad split by non-dominated rank, then by each
        # trial's hypervolume contribution within its front
        self.several = study.goal.several
        self.values: list[list[float]] = []
        self.stopped = 0  # trials an early-stopping policy stopped after a report: ranked after the finished
        self.share = GAMMA  # the good share of the latest proposal (see gamma())

    @property
    def bandwidth(self) -> float:
        """The kernel width factor: BANDWIDTH, or STOPPED_BANDWIDTH once an early-stopping policy has
        stopped trials (unless set)."""
        if self.fixed_bandwidth is not None:
            return self.fixed_bandwidth
        return STOPPED_BANDWIDTH if self.stopped else BANDWIDTH

    def gamma(self, running: int) -> float:
        """The good share: as set, else GAMMA, or RUNNING_GAMMA with RUNNING or more trials out, in a
        space of RUNNING_PARAMS or more, one objective and none stopped early (measured on BBOB;
        under a policy the stopped trials shape the good set, with several objectives the fronts do)."""
        if self.fixed_gamma is not None:
            return self.fixed_gamma
        wide = len(self.num_names) + len(self.cat_names) >= RUNNING_PARAMS
        return RUNNING_GAMMA if running >= RUNNING and wide and not (self.stopped or self.several) else GAMMA

    def _good_count(self, n: int) -> int:
        """How many of n trials form the good set at this proposal's share: at least 1, at most 25."""
        return min(max(1, math.ceil(self.share * n)), 25)

    def _encode(self, params: dict[str, Any]) -> tuple[list[float], list[int]]:
        if self.space.conditions:  # a conditional space: an inactive parameter is drawn at random, so
            # it adds no information; each parameter's density comes from the trials where it was active
            rng = self.np_rng
            return self.encoding.units(params, lambda: float(rng.random())), self.encoding.indices(
                params, lambda size: int(rng.integers(size))
            )
        return self.encoding.units(params), self.encoding.indices(params)

    def observe(self, trial: Trial) -> None:
        if trial.state is TrialState.COMPLETED and (trial.violation or 0) > 0:
            self.rejected.add(*self._encode(trial.params), math.inf)  # infeasible: "bad" evidence
        elif trial.state is TrialState.COMPLETED and self.several and trial.values is not None:
            self.done.add(*self._encode(trial.params), 0.0)  # ranked together at each suggestion (mo_losses)
            self.values.append(trial.values)
        elif trial.state is TrialState.COMPLETED and trial.value is not None and not self.several:
            self.done.add(*self._encode(trial.params), self.goal.loss(trial.value))
        elif (
            trial.state is TrialState.KILLED
            and not self.several
            and trial.last_step is not None
            and (value := reported_value(trial, self.goal.metric)) is not None
        ):
            self.done.add(*self._encode(trial.params), self.goal.loss(value), float(trial.last_step))
            self.stopped += 1
        elif trial.state in (TrialState.KILLED, TrialState.FAILED):
            self.rejected.add(*self._encode(trial.params), math.inf)  # "bad" evidence: steer away

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        # ours and, with join=True, the other processes' running trials: none of them has a value yet
        pending = [self._encode(t.params) for t in study.pending]
        out = []
        for _ in range(slots):
            if self.done.size < self.n_startup:
                params = self.space.sample(self.rng, prior=bool(self.space.priors))
            else:
                params = self._suggest(pending)
            pending.append(self._encode(params))
            out.append(Proposal(params))
        return out

    def _suggest(self, pending: list[tuple[list[float], list[int]]]) -> dict[str, Any]:
        n = self.done.size
        self.share = self.gamma(len(pending))
        n_good = self._good_count(n)
        if self.several:
            self.done.loss[:n] = mo_losses(self.goal.losses(self.values), n_good)
        order = self.done.ranked(np.arange(n))
        if self.space.conditions:
            return self._suggest_tree(order, n_good, pending)
        good, bad = order[:n_good], order[n_good:]
        d_num, d_cat = len(self.num_names), len(self.cat_names)
        bad_num = [self.done.num[bad], self.rejected.num[: self.rejected.size]]
        bad_cat = [self.done.cat[bad], self.rejected.cat[: self.rejected.size]]
        if pending:  # the constant liar: running points count as bad ones
            bad_num.append(np.array([p[0] for p in pending], dtype=float).reshape(len(pending), d_num))
            bad_cat.append(np.array([p[1] for p in pending], dtype=np.int64).reshape(len(pending), d_cat))
        good_density = self._density(self.done.num[good], self.done.cat[good], self.cat_sizes, self.floors)
        bad_density = self._density(np.concatenate(bad_num), np.concatenate(bad_cat), self.cat_sizes, self.floors)
        return self._best_candidate(good_density, bad_density)

    def _density(self, num: np.ndarray, cat: np.ndarray, sizes: list[int], floors: np.ndarray) -> _Density:
        return _Density(num, cat, sizes, self.prior_weight, self.bandwidth, floors)

    def _best_candidate(self, good_density: _Density, bad_density: _Density) -> dict[str, Any]:
        num, cat = good_density.sample(self.np_rng, self.n_candidates)
        scores = good_density.log_pdf(num, cat) - bad_density.log_pdf(num, cat)
        logs = self.encoding.log_prior(num, cat)
        if logs is not None:  # piBO: the prior weighed by PRIOR_BETA / (finished trials)
            scores = scores + PRIOR_BETA / max(1, self.done.size) * logs
        p = self.space.params
        # the best candidate; with parameter constraints, the best one they allow (else a random allowed point)
        order = np.argsort(-scores, kind="stable") if self.space.constraints else [int(np.argmax(scores))]
        for best in order:
            params = {name: p[name].from_unit(float(num[best, j])) for j, name in enumerate(self.num_names)}
            for j, name in enumerate(self.cat_names):
                params[name] = self.space.categories[name].options[int(cat[best, j])]
            if self.space.allows(params):
                return {name: params[name] for name in self.space.names}
        return self.space.sample(self.rng)

    def _suggest_tree(
        self, order: np.ndarray, n_good: int, pending: list[tuple[list[float], list[int]]]
    ) -> dict[str, Any]:
        """A conditional space as a tree: each conditional Choice is decided on its own (the ratio of its
        options among good and bad trials where it was active), then the parameters of the chosen options
        are modelled from the trials that made the same choices."""
        n = self.done.size
        is_good = np.zeros(n, dtype=bool)
        is_good[order[:n_good]] = True
        rows = np.ones(n, dtype=bool)  # the trials consistent with the choices made so far
        chosen: dict[str, Any] = {}
        # Older trials count less (all but the latest 25 ramp down to 1/n): an option that started badly
        # is not shut out for good by its first random trials.
        recency = np.ones(n)
        if n > 25:
            recency[: n - 25] = np.linspace(1.0 / n, 1.0, n - 25)
        for name, param in self.space.params.items():
            if not (isinstance(param, Choice) and param.conditional) or not self.space.active(name, chosen):
                continue
            j = self.cat_names.index(name)
            size = self.cat_sizes[j]
            column = self.done.cat[:n, j]
            # one pseudo-trial per option: an option that happened to start badly is still tried again
            good = np.bincount(column[rows & is_good], recency[rows & is_good], minlength=size) + 1.0
            bad = np.bincount(column[rows & ~is_good], recency[rows & ~is_good], minlength=size) + 1.0
            log_ratio = np.log(good / good.sum()) - np.log(bad / bad.sum())
            candidates = self.np_rng.choice(size, size=self.n_candidates, p=good / good.sum())
            pick = int(candidates[int(np.argmax(log_ratio[candidates]))])
            chosen[name] = param.options[pick]
            rows &= column == pick
        # Within the chosen options, good and bad are split again among the trials that made these choices.
        subset = np.flatnonzero(rows)
        is_good = np.zeros(n, dtype=bool)
        if len(subset):
            ranked = self.done.ranked(subset)
            is_good[ranked[: self._good_count(len(subset))]] = True
        keep = self._consistent(self.rejected.cat[: self.rejected.size], chosen)
        liars = [p for p in pending if self._consistent(np.array([p[1]], dtype=np.int64), chosen)[0]]
        # Model only the dimensions the chosen options make active: the others are noise here.
        nums = [j for j, name in enumerate(self.num_names) if self.space.active(name, chosen)]
        cats = [j for j, name in enumerate(self.cat_names) if name not in chosen and self.space.active(name, chosen)]
        proposal = dict(chosen)
        if (rows & is_good).any() and (nums or cats):
            good_rows, bad_rows = rows & is_good, rows & ~is_good
            bad_num = [self.done.num[:n][bad_rows][:, nums], self.rejected.num[: self.rejected.size][keep][:, nums]]
            bad_cat = [self.done.cat[:n][bad_rows][:, cats], self.rejected.cat[: self.rejected.size][keep][:, cats]]
            if liars:
                bad_num.append(np.array([p[0] for p in liars], dtype=float).reshape(len(liars), -1)[:, nums])
                bad_cat.append(np.array([p[1] for p in liars], dtype=np.int64).reshape(len(liars), -1)[:, cats])
            sizes = [self.cat_sizes[j] for j in cats]
            floors = self.floors[nums]
            good_density = self._density(
                self.done.num[:n][good_rows][:, nums], self.done.cat[:n][good_rows][:, cats], sizes, floors
            )
            bad_density = self._density(np.concatenate(bad_num), np.concatenate(bad_cat), sizes, floors)
            num, cat = good_density.sample(self.np_rng, self.n_candidates)
            best = int(np.argmax(good_density.log_pdf(num, cat) - bad_density.log_pdf(num, cat)))
            p = self.space.params
            for k, j in enumerate(nums):
                proposal[self.num_names[j]] = p[self.num_names[j]].from_unit(float(num[best, k]))
            for k, j in enumerate(cats):
                proposal[self.cat_names[j]] = self.space.categories[self.cat_names[j]].options[int(cat[best, k])]
        # (no good trial made these choices yet: their parameters are sampled)
        out: dict[str, Any] = {}
        for name, param in self.space.params.items():  # the active parameters only, in order
            if self.space.active(name, out):
                out[name] = proposal[name] if name in proposal else param.sample(self.rng)
        return out

    def _consistent(self, cat: np.ndarray, chosen: dict[str, Any]) -> np.ndarray:
        mask = np.ones(len(cat), dtype=bool)
        for name, label in chosen.items():
            j = self.cat_names.index(name)
            mask &= cat[:, j] == self.space.categories[name].index(label)
        return mask


def mo_losses(matrix: np.ndarray, n_good: int) -> np.ndarray:
    """One loss per trial for several objectives: its non-dominated rank; in the front that the good
    set cuts through, a fraction orders its trials by hypervolume contribution (two objectives) or
    crowding distance (more: exact contributions cost 100x more per trial there), the largest first."""
    from hyperion_core.pareto import crowding, hypervolume, nondominated_ranks

    ranks = nondominated_ranks(matrix)
    out = ranks.astype(float)
    counts = np.cumsum(np.bincount(ranks))
    cut = int(np.searchsorted(counts, n_good))  # the rank the good set cuts through
    members = np.flatnonzero(ranks == cut)
    if len(members) > 1:
        if matrix.shape[1] == 2:
            span = matrix.max(axis=0) - matrix.min(axis=0)
            reference = matrix.max(axis=0) + 0.1 * np.where(span > 0, span, 1.0)
            total = hypervolume(matrix[members], reference)
            score = np.array(
                [total - hypervolume(matrix[np.delete(members, i)], reference) for i in range(len(members))]
            )
        else:
            score = crowding(matrix[members])
        position = np.argsort(np.argsort(-score, kind="stable"), kind="stable")
        out[members] = cut + position / len(members)
    return out
