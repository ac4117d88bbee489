"""Several objectives, side by side in one run: ZDT1, ZDT2, ZDT3 (30 dimensions) and DTLZ2 (3 objectives,
12 dimensions); median hypervolume against a fixed reference point; Hyperion's `nsga2` and `bayesian`
against Optuna's NSGAIISampler and TPESampler (multivariate). A constrained Branin against Optuna's TPE
with `constraints_func`.

    python benchmarks/multi_objective.py [--seeds 10] [--trials 200] [--only zdt1,...]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from hyperion import Float, ObjectiveResult, tune
from hyperion_core.pareto import hypervolume


def zdt(kind: int, x: list[float]) -> list[float]:
    f1 = x[0]
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    if kind == 1:
        h = 1 - math.sqrt(f1 / g)
    elif kind == 2:
        h = 1 - (f1 / g) ** 2
    else:
        h = 1 - math.sqrt(f1 / g) - (f1 / g) * math.sin(10 * math.pi * f1)
    return [f1, g * h]


def dtlz2(x: list[float], m: int = 3) -> list[float]:
    g = sum((xi - 0.5) ** 2 for xi in x[m - 1 :])
    out = []
    for i in range(m):
        f = 1 + g
        for xj in x[: m - 1 - i]:
            f *= math.cos(xj * math.pi / 2)
        if i > 0:
            f *= math.sin(x[m - 1 - i] * math.pi / 2)
        out.append(f)
    return out


PROBLEMS = {  # name: (dimensions, function, reference point)
    "zdt1": (30, lambda x: zdt(1, x), [1.1, 11.0]),
    "zdt2": (30, lambda x: zdt(2, x), [1.1, 11.0]),
    "zdt3": (30, lambda x: zdt(3, x), [1.1, 11.0]),
    "dtlz2": (12, dtlz2, [2.5, 2.5, 2.5]),
}


def hyperion_run(name: str, strategy: str, seed: int, trials: int) -> tuple[float, float]:
    dims, f, ref = PROBLEMS[name]
    names = [f"f{i}" for i in range(len(ref))]

    def objective(ctx, **x):
        return ObjectiveResult(metrics=dict(zip(names, f([x[f"x{i}"] for i in range(dims)]))))

    began = time.perf_counter()
    result = tune(
        objective,
        {f"x{i}": Float(0, 1) for i in range(dims)},
        strategy=strategy,
        metric=names,
        mode="min",
        max_trials=trials,
        seed=seed,
    )
    seconds = time.perf_counter() - began
    front = np.array([[t["values"][n] for n in names] for t in result["pareto_front"]])
    return hypervolume(front, ref), seconds / trials


def optuna_run(name: str, sampler_name: str, seed: int, trials: int) -> tuple[float, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dims, f, ref = PROBLEMS[name]
    sampler = (
        optuna.samplers.NSGAIISampler(seed=seed)
        if sampler_name == "nsga2"
        else optuna.samplers.TPESampler(seed=seed, multivariate=True)
    )
    study = optuna.create_study(directions=["minimize"] * len(ref), sampler=sampler)
    began = time.perf_counter()
    study.optimize(lambda t: f([t.suggest_float(f"x{i}", 0, 1) for i in range(dims)]), n_trials=trials)
    seconds = time.perf_counter() - began
    front = np.array([t.values for t in study.best_trials])
    return hypervolume(front, ref), seconds / trials


def constrained_branin(seeds: int, trials: int) -> None:
    """Branin subject to (x1 - 2.5)^2 + (x2 - 7.5)^2 <= 50: the unconstrained minima at (-pi, 12.275) and
    (9.42, 2.475) are outside; best feasible about 0.3979 at (pi, 2.275)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def branin(x1: float, x2: float) -> float:
        return (
            (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
            + 10
        )

    def circle(x1: float, x2: float) -> float:
        return (x1 - 2.5) ** 2 + (x2 - 7.5) ** 2

    ours, theirs = [], []
    for seed in range(seeds):
        result = tune(
            lambda ctx, x1, x2: ObjectiveResult(score=branin(x1, x2), metrics={"circle": circle(x1, x2)}),
            {"x1": Float(-5, 10), "x2": Float(0, 15)},
            strategy="bayesian",
            mode="min",
            constraints={"circle": ("<=", 50.0)},
            max_trials=trials,
            seed=seed,
        )
        ours.append(result["best"]["value"] if result["best"] else math.inf)

        def objective(t):
            x1, x2 = t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15)
            t.set_user_attr("c", circle(x1, x2) - 50.0)
            return branin(x1, x2)

        sampler = optuna.samplers.TPESampler(
            seed=seed, multivariate=True, constraints_func=lambda t: [t.user_attrs["c"]]
        )
        study = optuna.create_study(sampler=sampler)
        study.optimize(objective, n_trials=trials)
        feasible = [t.value for t in study.trials if t.user_attrs["c"] <= 0]
        theirs.append(min(feasible) if feasible else math.inf)
    print(f"\nconstrained Branin, {trials} trials, {seeds} seeds: median best feasible (optimum about 0.3979)\n")
    print("| Hyperion bayesian | Optuna TPE (constraints_func) |")
    print("|---:|---:|")
    print(f"| {statistics.median(ours):.4f} | {statistics.median(theirs):.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--only", default=",".join(PROBLEMS))
    args = parser.parse_args()
    runs = [("hyperion", "nsga2"), ("hyperion", "bayesian"), ("optuna", "nsga2"), ("optuna", "tpe")]
    print(f"{args.trials} trials, {args.seeds} seeds: median hypervolume (higher is better); ms per trial\n")
    print("| problem | " + " | ".join(f"{lib} {s}" for lib, s in runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for name in args.only.split(","):
        cells = []
        for lib, strategy in runs:
            run = hyperion_run if lib == "hyperion" else optuna_run
            outcomes = [run(name, strategy, seed, args.trials) for seed in range(args.seeds)]
            hv = statistics.median(o[0] for o in outcomes)
            ms = 1000 * statistics.mean(o[1] for o in outcomes)
            cells.append(f"{hv:.4f} ({ms:.1f} ms)")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    constrained_branin(args.seeds, 60)


if __name__ == "__main__":
    main()
