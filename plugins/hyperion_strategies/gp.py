"""`gp`: Gaussian-process Bayesian optimisation (for small budgets and mostly numeric spaces).

Each proposal fits a GP (Matern-5/2, a length scale per dimension, by marginal likelihood; see
_gp_model.py) to the completed trials, encoded on the unit cube (log parameters in log space, Int as
numbers, Choice and Bool one-hot), and proposes the point of largest log expected improvement: scored
on random points and on neighbours of the best trials, the best few then refined by L-BFGS-B on the
numeric parameters. Targets are warped before the fit (see `warp`) so that a few huge losses do not
flatten the model around the optimum.

- Failed, killed and infeasible trials count as the worst value seen: the model steers away from them.
- Concurrent slots: the kriging believer (running trials count as what the model predicts there).
- Several objectives: ParEGO (a random weighting of the normalised objectives per proposal).
- Conditional spaces: an inactive parameter sits at a fixed code (numbers at 0.5, options all zero).
- Cost grows with the cube of the trials fitted: at most `max_points` (the best half and the latest).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hyperion_core import checks
from hyperion_core.encoding import Encoding, is_categorical
from hyperion_core.errors import ConfigurationError
from hyperion_core.models import Trial, TrialState
from hyperion_core.params import PRIOR_BETA
from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.state import StudyState

WARPS = ("auto", "none", "log")
_controller: Any = None


def _one_blas_thread() -> Any:
    """BLAS on one thread while the GP works: its matrices are small (at most max_points square), and a
    multi-threaded OpenBLAS on a busy machine made one 200 x 200 Cholesky cost 100 ms instead of 0.1."""
    global _controller
    if _controller is None:
        # scipy brings its own OpenBLAS, loaded when scipy.linalg is first imported: load it before the
        # controller looks, or the limit misses the library the GP uses (it then ran on every core)
        import scipy.linalg  # noqa: F401
        import scipy.optimize  # noqa: F401
        import scipy.special  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


#: The most options of a Choice the model encodes (one input column each); wider ones it leaves out.
MAX_ONE_HOT = 32


class GPSearch(Strategy):
    """Gaussian-process Bayesian optimisation.

    n_startup: random trials before the model is used (default: 2 x the number of parameters, at
      least 5 and at most 20).
    n_candidates: points scored by the acquisition before the gradient search (default 512).
    n_restarts: the best candidates refined by L-BFGS-B (default 4).
    max_points: trials the model is fitted on at most (default 300).
    warp: how targets are transformed before the fit: "none" (standardised), "log" (the log of the
      distance to the best: losses spanning orders of magnitude), or "auto" (the default): whichever
      of the two the marginal likelihood prefers on the raw targets, decided again every 10 fits.
    local: every other proposal steps to the minimum of a quadratic fitted to the best trials, when
      it has one (default True).
    """

    def __init__(
        self,
        n_startup: int | None = None,
        n_candidates: int = 512,
        n_restarts: int = 4,
        max_points: int = 300,
        warp: str = "auto",
        local: bool = True,
    ) -> None:
        self.n_startup = checks.whole_number("gp: n_startup", n_startup, 1, optional=True)
        self.n_candidates = checks.whole_number("gp: n_candidates", n_candidates, 1)
        self.n_restarts = checks.whole_number("gp: n_restarts", n_restarts, 1)
        self.max_points = checks.whole_number("gp: max_points", max_points, 10)
        if warp not in WARPS:
            raise ConfigurationError(f"gp: warp must be one of {', '.join(WARPS)}, got {warp!r}")
        self.warp = warp
        self.local = bool(local)

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        try:
            import scipy  # noqa: F401
        except ImportError:
            raise ConfigurationError("gp needs scipy: pip install scipy") from None
        params = self.space.params
        # A Choice of many options would make the model's inputs (one column per option) and its cost
        # unbounded: it is left out of the model, and its values come with the candidates' bases (the best
        # trials' values near them, random ones elsewhere).
        wide = [n for n, p in params.items() if is_categorical(p) and len(p.options) > MAX_ONE_HOT]
        self.wide_note = (
            f"gp: {', '.join(wide)} ha{'s' if len(wide) == 1 else 've'} more than {MAX_ONE_HOT} options: the model "
            "leaves them out (their values come from the best trials and random draws)"
            if wide
            else None
        )
        self.encoding = Encoding(self.space, leave_out=wide)
        self.num_names, self.cat_names = self.encoding.numeric, self.encoding.categorical
        if self.n_startup is None:
            self.n_startup = min(20, max(5, 2 * len(params)))
        self.np_rng = np.random.default_rng(self.rng.getrandbits(64))
        self.goal = study.goal
        self.several = study.goal.several
        self.points: list[np.ndarray] = []  # encoded completed trials
        self.params: list[dict[str, Any]] = []
        self.values: list[Any] = []  # sign-adjusted value, a list (several objectives), or None (bad)
        self.seen: set[tuple[Any, ...]] = set()
        self.theta: np.ndarray | None = None
        self.steps = 0
        self.fits = 0
        self.since_fit = 0  # proposals since the hyperparameters were last fitted
        self.chosen: str | None = None  # the warp "auto" settled on

    # -- encoding --------------------------------------------------------------------------------------
    def _encode(self, params: dict[str, Any]) -> np.ndarray:
        return self.encoding.one_hot(params)

    def _key(self, params: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted((k, repr(v)) for k, v in params.items()))

    def observe(self, trial: Trial) -> None:
        self.seen.add(self._key(trial.params))
        if trial.state is TrialState.COMPLETED and (trial.violation or 0) <= 0:
            if self.several and trial.values is not None:
                value: Any = [s * v for s, v in zip(self.goal.signs, trial.values)]
            elif not self.several and trial.value is not None and math.isfinite(trial.value):
                value = self.goal.loss(trial.value)
            else:
                return
        elif trial.state in (TrialState.COMPLETED, TrialState.KILLED, TrialState.FAILED):
            value = None  # infeasible, stopped or failed: counts as the worst seen
        else:
            return
        self.points.append(self._encode(trial.params))
        self.params.append(dict(trial.params))
        self.values.append(value)

    # -- proposals -------------------------------------------------------------------------------------
    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        with _one_blas_thread():
            return self._propose(study, slots)

    def _propose(self, study: StudyState, slots: int) -> list[Proposal]:
        if self.wide_note is not None:  # said when gp proposes (auto sets it up, and may not use it)
            study.note(self.wide_note)
            self.wide_note = None
        running = [t.params for t in study.pending]
        good = sum(v is not None for v in self.values)
        out: list[Proposal] = []
        model = None
        for _ in range(slots):
            if good < (self.n_startup or 1) or len(self.points) < 2:
                params = self._fresh()
            else:
                try:
                    if model is None:
                        model = self._model()
                    params = self._suggest(model, running)
                except (np.linalg.LinAlgError, ValueError, FloatingPointError):
                    params = self._fresh()  # a model that cannot be fitted here: sample, never stall
            running.append(params)
            self.seen.add(self._key(params))
            out.append(Proposal(params))
        return out

    def _fresh(self) -> dict[str, Any]:
        for _ in range(20):
            params = self.space.sample(self.rng, prior=bool(self.space.priors))
            if self._key(params) not in self.seen:
                return params
        return params

    def _targets(self) -> np.ndarray:
        if self.several:  # ParEGO: a random weighting of the objectives scaled to [0, 1]
            done = np.array([v for v in self.values if v is not None], dtype=float)
            lo, hi = done.min(axis=0), done.max(axis=0)
            weights = self.np_rng.dirichlet(np.ones(done.shape[1]))
            scalar: list[float | None] = []
            for v in self.values:
                if v is None:
                    scalar.append(None)
                    continue
                scaled = weights * (np.asarray(v) - lo) / np.where(hi > lo, hi - lo, 1.0)
                scalar.append(float(scaled.max() + 0.05 * scaled.sum()))
        else:
            scalar = list(self.values)
        finite = np.array([v for v in scalar if v is not None], dtype=float)
        return np.array([finite.max() if v is None else v for v in scalar], dtype=float)

    @staticmethod
    def _warped(y: np.ndarray, warp: str) -> tuple[np.ndarray, float]:
        """Standardised targets under `warp`, and the log-Jacobian of that map (what makes the
        evidence of models fitted to differently warped targets comparable)."""
        jacobian = 0.0
        if warp == "log":  # the log of the distance to the best, floored at a thousandth of its median
            gap = y - y.min()
            scale = float(np.median(gap[gap > 0])) if (gap > 0).any() else 1.0
            shifted = gap + 1e-3 * scale
            y = np.log(shifted)
            jacobian -= float(np.log(shifted).sum())
        spread = float(y.std())
        spread = spread if spread > 0 else 1.0
        return (y - y.mean()) / spread, jacobian - len(y) * math.log(spread)

    def _model(self) -> Any:
        from hyperion_strategies._gp_model import GP

        x = np.array(self.points)
        raw = self._targets()
        keep = np.arange(len(raw))
        if len(raw) > self.max_points:  # the best half and the latest half
            best = np.argsort(raw, kind="stable")[: self.max_points // 2]
            latest = np.arange(len(raw) - (self.max_points - len(best)), len(raw))
            keep = np.union1d(best, latest)
        raw = raw[keep]
        # Hyperparameters are refitted at every proposal up to 100 trials, then every n/25-th (every 8th at
        # 200): they change slowly by then, and a fit is most of a proposal's cost.
        refit = self.theta is None or len(raw) < 100 or self.since_fit + 1 >= len(raw) // 25
        self.since_fit = 0 if refit else self.since_fit + 1
        warp = self.chosen if self.warp == "auto" else self.warp
        if warp is None or (self.warp == "auto" and refit and self.fits % 10 == 0):
            # "auto": the warp whose model explains the raw targets best (evidence + log-Jacobian),
            # decided again every 10 fits
            fitted = []
            for option in ("none", "log"):
                y, jacobian = self._warped(raw, option)
                candidate = GP(x[keep], y, self.theta)
                fitted.append((jacobian - candidate._neg_lml(candidate.theta)[0], option, candidate))
            _, self.chosen, model = max(fitted, key=lambda f: f[0])
        else:
            y, _ = self._warped(raw, warp)
            model = GP(x[keep], y, self.theta, fit=refit)
        y = model.y
        self.fits += 1 if refit else 0
        self.theta = model.theta
        self.best_params = [self.params[i] for i in keep[np.argsort(y, kind="stable")[:5]]]
        return model

    def _suggest(self, model: Any, running: list[dict[str, Any]]) -> dict[str, Any]:
        self.steps += 1
        if self.local and self.steps % 2 == 0 and (params := self._local()) is not None:
            return params
        if running:  # kriging believer: what the model expects at the running points
            xr = np.array([self._encode(p) for p in running])
            model = model.with_points(xr, model.predict(xr)[0])
        best = float(model.y.min())  # the believed values count: a slot's fantasy is the next one's incumbent
        bases, xs, masks = self._candidates(model)
        scores, _ = model.log_ei(xs, best, grad=False)
        scores = self._with_prior(scores, xs)
        order = np.argsort(-scores, kind="stable")
        starts: list[int] = []
        for i in order:
            if len(starts) == self.n_restarts:
                break
            if all(np.abs(xs[i] - xs[j]).max() > 1e-6 for j in starts):
                starts.append(i)
        refined = self._refine(model, best, xs[starts], masks[starts])
        final, _ = model.log_ei(refined, best, grad=False)
        final = self._with_prior(final, refined)
        ranked = [(final[k], refined[k], bases[starts[k]]) for k in range(len(starts))]
        ranked += [(scores[i], xs[i], bases[i]) for i in order[: 4 * self.n_restarts]]
        for _, x, base in sorted(ranked, key=lambda item: -item[0]):
            params = self._decode(x, base)
            if self._key(params) not in self.seen and self.space.allows(params):
                return params
        return self._fresh()  # every good point is taken (a small discrete space)

    def _with_prior(self, scores: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """piBO: log EI plus the log prior weighed by PRIOR_BETA / (finished trials)."""
        if not self.space.priors:
            return scores
        enc = self.encoding
        logs = enc.log_prior(xs[:, : len(self.num_names)], enc.indices_of(xs))
        if logs is None:
            return scores
        weighed: np.ndarray = scores + PRIOR_BETA / max(1, len(self.points)) * logs
        return weighed

    def _local(self) -> dict[str, Any] | None:
        """Every other proposal: the minimum of a quadratic fitted to the best trials (numeric
        parameters; the options of the best trial kept), when that fit has one and it is new."""
        from hyperion_strategies._quadratic import quadratic_step

        n_num = len(self.num_names)
        done = [i for i, v in enumerate(self.values) if v is not None]
        if not n_num or self.several or len(done) < 3:
            return None
        values = np.array([self.values[i] for i in done], dtype=float)
        order = np.argsort(values, kind="stable")
        base = self.params[done[order[0]]]
        same = [k for k in order if all(self.params[done[k]].get(n) == base.get(n) for n in self.cat_names)]
        terms = 1 + n_num + n_num * (n_num + 1) // 2
        chosen = same[: int(1.5 * terms) + 2]
        x = np.array([self.points[done[k]][:n_num] for k in chosen])
        step = quadratic_step(x, values[chosen], x[0])
        if step is None:
            return None
        full = self._encode(base)
        full[:n_num] = step
        params = self._decode(full, base)
        return params if self._key(params) not in self.seen and self.space.allows(params) else None

    def _candidates(self, model: Any) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
        """Random points, and Gaussian neighbours of the best trials at three scales (their options kept)."""
        n_num = len(self.num_names)
        bases: list[dict[str, Any]] = []
        rows = []
        n_random = self.n_candidates // 2
        if self.space.conditions:  # which parameters are active depends on the draw: the space decides
            for _ in range(n_random):
                params = self.space.sample(self.rng)
                bases.append(params)
                rows.append(self._encode(params))
        else:  # every parameter active: draw the codes at once (the numbers' values come from the codes)
            codes = np.zeros((n_random, self.encoding.width))
            codes[:, :n_num] = self.np_rng.random((n_random, n_num))
            drawn = {}
            for name, category in self.space.categories.items():
                drawn[name] = self.np_rng.integers(0, len(category.options), n_random)
            for offset, name in zip(self.encoding.offsets, self.cat_names):
                codes[np.arange(n_random), offset + drawn[name]] = 1.0
            options = {name: self.space.categories[name].options for name in drawn}
            numbers = dict.fromkeys(self.num_names, 0.0)  # placeholders: _decode writes the codes' values
            bases = [{**numbers, **{n: options[n][int(drawn[n][k])] for n in drawn}} for k in range(n_random)]
            rows = list(codes)
        per = max(1, (self.n_candidates - n_random) // max(1, len(self.best_params)))
        for params in self.best_params:
            x0 = self._encode(params)
            scales = np.array([0.2, 0.05, 0.01])[self.np_rng.integers(0, 3, per)]
            for s in scales:
                x = x0.copy()
                x[:n_num] = np.clip(x0[:n_num] + self.np_rng.normal(0.0, s, n_num), 0.0, 1.0)
                bases.append(params)
                rows.append(x)
        xs = np.array(rows)
        masks = np.array([[name in b for name in self.num_names] for b in bases], dtype=bool).reshape(len(bases), n_num)
        xs[:, :n_num] = np.where(masks, xs[:, :n_num], 0.5)
        return bases, xs, masks

    def _refine(self, model: Any, best: float, starts: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """L-BFGS-B on the active numeric coordinates of every start at once (the sum of independent
        terms: one call, one batched evaluation per step)."""
        from scipy.optimize import minimize

        n_num = len(self.num_names)
        if not n_num or not masks.any():
            return starts
        fixed = starts.copy()
        where = np.zeros_like(starts, dtype=bool)
        where[:, :n_num] = masks

        def f(v: np.ndarray) -> tuple[float, np.ndarray]:
            x = fixed.copy()
            x[where] = v
            value, grad = model.log_ei(x, best)
            assert grad is not None
            return -float(value.sum()), -grad[where]

        try:
            result = minimize(
                f,
                starts[where],
                jac=True,
                method="L-BFGS-B",
                bounds=[(0.0, 1.0)] * int(where.sum()),
                options={"maxiter": 50},
            )
        except (ValueError, np.linalg.LinAlgError):
            return starts
        out = fixed.copy()
        out[where] = np.clip(result.x, 0.0, 1.0) if np.all(np.isfinite(result.x)) else starts[where]
        return out

    def _decode(self, x: np.ndarray, base: dict[str, Any]) -> dict[str, Any]:
        p = self.space.params
        out = dict(base)
        for j, name in enumerate(self.num_names):
            if name in base:
                out[name] = p[name].from_unit(float(x[j]))
        return {name: out[name] for name in p if name in out}
