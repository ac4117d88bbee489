"""`local`: a trust-region local search on the numeric parameters, from the best trial so far.

It runs COBYQA (Ragonneau and Zhang: quadratic models of the objective in a trust region that shrinks
as they stop improving, the box kept; the copy scipy ships, COBYLA where it has none) as a
sequence of asks and tells: the solver runs on a thread of its own and waits for each value. On smooth
problems, ill-conditioned and valley-shaped ones above all, it converges in a few dozen trials where a
global model keeps exploring; it is what Nevergrad's NGOpt runs at these budgets. `auto` hands a
continuous study to it once `gp` has found the region.

- Start: the best finished trial (a resumed study, `gp`'s under `auto`), else the middle of the box;
  the first trust radius is `radius` (a fraction of each parameter's range).
- When the solver has converged it starts again from a random point (the study goes on exploring).
- A point already evaluated is told its known value without a trial; a point outside the parameter
  constraints, or a failed, stopped or infeasible trial, is told a value worse than any seen.
- Categorical parameters take the best trial's options; one proposal in five tries other options near
  the best numbers (the solver is not told those).
- One trial of its own at a time: further slots get neighbours of the best trial. One objective only.
"""

from __future__ import annotations

import math
import queue
import threading
from typing import Any

import numpy as np

from hyperion_core import checks
from hyperion_core.models import Trial
from hyperion_core.protocols import Proposal
from hyperion_core.state import StudyState
from hyperion_strategies._numeric import NumericSearch

#: Seconds a proposal waits for the solver's next point (it takes milliseconds) before sampling instead.
WAIT_S = 60.0
#: Points told without a trial (known, or outside the constraints) in a row before a proposal samples.
MAX_TOLD = 200


class _Stop(Exception):
    """Raised inside the solver's objective to end its thread."""


def _solve(x0: np.ndarray, radius: float, points: queue.Queue[Any], values: queue.Queue[Any]) -> None:
    """The solver's thread: each value it needs is a point put in `points`, answered through `values`.
    It holds no reference to the strategy, so a strategy dropped without close() still ends it (__del__).

    COBYQA from the copy scipy ships, called directly: scipy.optimize.minimize serialises COBYQA behind a
    process-wide lock (scipy < 1.18), which a solver waiting hours for a trial would hold, stopping every
    other study's; COBYLA through the public function where that copy is missing."""

    def f(x: np.ndarray) -> float:
        points.put(np.clip(np.asarray(x, dtype=float), 0.0, 1.0))
        value = values.get()
        if value is _Stop:
            raise _Stop
        return float(value)

    n = len(x0)
    try:
        try:
            from scipy._lib.cobyqa import minimize as cobyqa
            from scipy.optimize import Bounds
        except ImportError:
            from scipy.optimize import minimize

            bounds = [(0.0, 1.0)] * n
            minimize(f, x0, method="COBYLA", bounds=bounds, options={"maxiter": 10**9, "rhobeg": radius})
        else:
            options = {"maxfev": 10**9, "radius_init": radius, "radius_final": 1e-7}
            cobyqa(f, x0, bounds=Bounds(np.zeros(n), np.ones(n)), options=options)
    except _Stop:
        pass
    except Exception:  # noqa: BLE001 - a solver failure ends this run; the strategy starts another
        pass
    finally:
        points.put(None)


class LocalSearch(NumericSearch):
    """Trust-region local search (COBYQA) with restarts.

    radius: the first trust radius, a fraction of each parameter's range (default 0.2).
    """

    def __init__(self, radius: float = 0.2) -> None:
        self.radius = checks.fraction("local: radius", radius, 1e-6, 1.0)

    name = "local"

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.worst = 0.0
        self.waiting: tuple[Any, ...] | None = None  # the solver's point now running as a trial
        self.points: queue.Queue[Any] = queue.Queue()  # solver -> strategy: the next point, or None at its end
        self.values: queue.Queue[Any] = queue.Queue()  # strategy -> solver: the value, or _Stop
        self.thread: threading.Thread | None = None
        self.runs = 0

    def observe(self, trial: Trial) -> None:
        if (finished := self._finished(trial)) is None:
            return
        key, loss = finished
        if math.isfinite(loss):
            self.worst = max(self.worst, loss)
        if key == self.waiting:
            self.waiting = None
            self._answer(loss)

    def _answer(self, loss: float) -> None:
        self.values.put(self._told(loss))

    def _told(self, loss: float) -> float:
        """What the solver is told: a value worse than any seen in place of a missing one."""
        return loss if math.isfinite(loss) else self.worst + abs(self.worst) + 1.0

    # -- the solver's thread ---------------------------------------------------------------------------
    def _start(self) -> None:
        if self.best is not None and self.runs == 0:
            x0 = np.array(self.encoding.units(self.best[1]))
        elif self.runs == 0:  # the middle of the box, or the priors where given
            x0 = self._prior_point(np.full(len(self.names), 0.5))
        else:
            x0 = self.np_rng.random(len(self.names))
        self.runs += 1
        if self.runs > 1:
            self.study.note(f"local: restart {self.runs - 1} from a random point (the last run converged)")
        self.points, self.values = queue.Queue(), queue.Queue()
        self.thread = threading.Thread(
            target=_solve, args=(x0, self.radius, self.points, self.values), name="hyperion-local", daemon=True
        )
        self.thread.start()

    def _next_point(self) -> np.ndarray | None:
        """The solver's next point; None when its run has ended (the next call starts another).
        TimeoutError when it did not answer within WAIT_S (it takes milliseconds)."""
        if self.thread is None:
            self._start()
        try:
            x: np.ndarray | None = self.points.get(timeout=WAIT_S)
        except queue.Empty:
            raise TimeoutError from None
        if x is None:
            self.thread = None
        return x

    # -- proposals -------------------------------------------------------------------------------------
    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        if self.waiting is not None and not any(self._key(t.params) == self.waiting for t in study.pending):
            self.waiting = None  # its trial ended without a result (interrupted): worse than any seen
            self._answer(math.inf)
        out = []
        for _ in range(slots):
            # the solver searches the numbers with the best trial's options; one proposal in five tries
            # other options (a space with categorical parameters) near the best numbers
            other = bool(self.space.categories) and self.rng.random() < 0.2
            params = self._local() if self.names and self.waiting is None and not other else None
            out.append(Proposal(params if params is not None else self._neighbour(other)))
        return out

    def _local(self) -> dict[str, Any] | None:
        for _ in range(MAX_TOLD):
            try:
                x = self._next_point()
            except TimeoutError:
                return None
            if x is None:
                continue  # that run ended: the next call starts another
            params = self._decode(x)
            key = self._key(params)
            if key in self.known:
                self._answer(self.known[key])
                continue
            if not self.space.allows(params):
                self.known[key] = math.inf
                self._answer(math.inf)
                continue
            self.waiting = key
            return params
        return None

    def _neighbour(self, other_options: bool = False) -> dict[str, Any]:
        """A point near the best trial (another slot while the solver's point runs; with `other_options`,
        the categorical parameters drawn afresh), or a random one."""
        if self.best is None or not self.names:
            return self.space.sample(self.rng)
        for _ in range(20):
            x = np.array(self.encoding.units(self.best[1]))
            x = np.clip(x + self.np_rng.normal(0.0, self.radius / 2, len(x)), 0.0, 1.0)
            params = self._decode(x, self._other_options() if other_options else None)
            if self._key(params) not in self.known and self.space.allows(params):
                return params
        return self.space.sample(self.rng)

    def _other_options(self) -> dict[str, Any]:
        """A random point whose categorical parameters differ from the best trial's (when the space allows)."""
        assert self.best is not None
        best = {n: self.best[1].get(n) for n in self.space.categories}
        for _ in range(20):
            fresh = self.space.sample(self.rng)
            if any(fresh.get(n) != v for n, v in best.items()):
                return fresh
        return fresh

    def _decode(self, x: np.ndarray, base: dict[str, Any] | None = None) -> dict[str, Any]:
        if base is None:
            base = dict(self.best[1]) if self.best is not None else self.space.sample(self.rng)
        params = self.space.params
        for j, name in enumerate(self.names):
            if name in base:
                base[name] = params[name].from_unit(float(x[j]))
        return {name: base[name] for name in params if name in base}

    def close(self, study: StudyState) -> None:
        if self.thread is not None:
            self.values.put(_Stop)  # the solver waits for a value: this ends it
            self.thread.join(timeout=5.0)
            self.thread = None

    def __del__(self) -> None:  # a strategy dropped without close(): its solver's thread still ends
        if getattr(self, "thread", None) is not None:
            self.values.put(_Stop)
