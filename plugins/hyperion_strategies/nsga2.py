"""`nsga2`: a genetic search for several objectives (NSGA-II), steady-state so it keeps every slot busy.

The population is the best `population_size` finished trials by constraint-domination (feasible before
infeasible, infeasible by how far outside), non-dominated rank, then crowding distance. Each new point
is a child of two parents picked by binary tournament: simulated binary crossover and polynomial
mutation on numbers (in the unit cube, so log scales and integers are handled), uniform crossover and
random reset on choices. With one objective it is a plain genetic algorithm.
"""

from __future__ import annotations

import math
from typing import Any

from hyperion_core import checks
from hyperion_core.models import Trial, TrialState
from hyperion_core.params import Categorical
from hyperion_core.protocols import Proposal, Strategy
from hyperion_core.state import StudyState


class NSGA2(Strategy):
    """population_size: parents kept (default 20; the first generation is random). crossover_prob:
    chance a child is a crossover of two parents rather than a copy of one (default 0.9).
    mutation_prob: per parameter (default 1 / number of parameters). eta_crossover, eta_mutation:
    distribution indexes of SBX and polynomial mutation (defaults 15 and 20: children near parents)."""

    def __init__(
        self,
        population_size: int = 20,
        crossover_prob: float = 0.9,
        mutation_prob: float | None = None,
        eta_crossover: float = 15.0,
        eta_mutation: float = 20.0,
    ) -> None:
        self.population_size = checks.whole_number("nsga2: population_size", population_size, 2)
        self.crossover_prob = checks.fraction("nsga2: crossover_prob", crossover_prob)
        self.mutation_prob = None if mutation_prob is None else checks.fraction("nsga2: mutation_prob", mutation_prob)
        self.eta_crossover = checks.fraction("nsga2: eta_crossover", eta_crossover, 0.0, 1000.0)
        self.eta_mutation = checks.fraction("nsga2: eta_mutation", eta_mutation, 0.0, 1000.0)
        self.finished: list[Trial] = []
        self._population: list[tuple[Trial, tuple[int, float]]] | None = None

    def setup(self, study: StudyState) -> None:
        super().setup(study)
        self.goal = study.goal

    def observe(self, trial: Trial) -> None:
        if trial.state is TrialState.COMPLETED and trial.value is not None:
            self.finished.append(trial)
            self._population = None  # chosen again at the next proposal

    def propose(self, study: StudyState, slots: int) -> list[Proposal]:
        out = []
        for _ in range(slots):
            if len(self.finished) < self.population_size:
                out.append(Proposal(self.space.sample(self.rng), rationale="nsga2: first generation, random"))
                continue
            population = self._select()
            a, b = self._tournament(population), self._tournament(population)
            child = self._child(a.params, b.params)
            out.append(Proposal(child, rationale=f"nsga2: child of {a.trial_id} and {b.trial_id}"))
        return out

    # -- selection -----------------------------------------------------------------------------------
    def _select(self) -> list[tuple[Trial, tuple[int, float]]]:
        """The population: the best population_size trials, each with its (rank, -crowding) key."""
        if self._population is not None:
            return self._population
        from hyperion_core.pareto import crowding, nondominated_ranks

        feasible = [t for t in self.finished if (t.violation or 0) == 0]
        infeasible = sorted((t for t in self.finished if (t.violation or 0) > 0), key=lambda t: t.violation or 0)
        keyed: list[tuple[Trial, tuple[int, float]]] = []
        if feasible:
            matrix = self.goal.losses([t.values if t.values is not None else [t.value or 0.0] for t in feasible])
            ranks = nondominated_ranks(matrix)
            for rank in sorted(set(ranks.tolist())):
                members = [i for i in range(len(feasible)) if ranks[i] == rank]
                distance = crowding(matrix[members])
                keyed += [(feasible[i], (int(rank), -float(d))) for i, d in zip(members, distance)]
        worst = (len(self.finished) + 1, 0.0)
        keyed += [(t, (worst[0] + i, 0.0)) for i, t in enumerate(infeasible)]
        keyed.sort(key=lambda item: item[1])
        self._population = keyed[: self.population_size]
        return self._population

    def _tournament(self, population: list[tuple[Trial, tuple[int, float]]]) -> Trial:
        a, b = self.rng.choice(population), self.rng.choice(population)
        return a[0] if a[1] <= b[1] else b[0]

    # -- variation -----------------------------------------------------------------------------------
    def _child(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        space, rng = self.space, self.rng
        cross = rng.random() < self.crossover_prob
        active = [name for name in space.params if name in a or name in b]
        rate = self.mutation_prob if self.mutation_prob is not None else 1.0 / max(1, len(active))
        child: dict[str, Any] = {}
        for name, param in space.params.items():
            if not space.active(name, child):
                continue
            if name not in a and name not in b:
                child[name] = param.sample(rng)  # an option neither parent chose
                continue
            x = a.get(name, b.get(name))
            y = b.get(name, x) if cross else x
            if isinstance(param, Categorical):
                value = y if cross and rng.random() < 0.5 else x
                if rng.random() < rate:
                    value = param.sample(rng)
            else:
                u = self._sbx(param.to_unit(x), param.to_unit(y)) if cross else param.to_unit(x)
                if rng.random() < rate:
                    u = self._mutate(u)
                value = param.from_unit(min(max(u, 0.0), 1.0))
            child[name] = value
        return child

    def _sbx(self, x: float, y: float) -> float:
        """Simulated binary crossover in [0, 1]: one child, near one parent or the other."""
        if abs(x - y) < 1e-12:
            return x
        u = self.rng.random()
        beta = (
            (2 * u) ** (1 / (self.eta_crossover + 1))
            if u <= 0.5
            else (1 / (2 * (1 - u))) ** (1 / (self.eta_crossover + 1))
        )
        child = (
            0.5 * ((1 + beta) * x + (1 - beta) * y)
            if self.rng.random() < 0.5
            else 0.5 * ((1 - beta) * x + (1 + beta) * y)
        )
        return float(min(max(child, 0.0), 1.0))

    def _mutate(self, u: float) -> float:
        """Polynomial mutation in [0, 1]."""
        r = self.rng.random()
        eta = self.eta_mutation
        if r < 0.5:
            delta = (2 * r + (1 - 2 * r) * (1 - u) ** (eta + 1)) ** (1 / (eta + 1)) - 1
        else:
            delta = 1 - (2 * (1 - r) + 2 * (r - 0.5) * u ** (eta + 1)) ** (1 / (eta + 1))
        return min(max(u + delta, 0.0), 1.0) if math.isfinite(delta) else u
