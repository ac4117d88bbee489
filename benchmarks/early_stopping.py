"""Early stopping: compute saved vs quality kept, Hyperion's policies vs Optuna's pruners, side by side.

A deterministic learning-curve problem: loss(step) = final(p) + a(p) * (step + 1) ** -b(p) + noise,
200 steps, 60 trials with the same parameters for every arm, 5 seeds. A trial's cost is the steps it
ran. Reported: total steps (median over seeds, and as a share of no stopping) and the best final loss
among trials that ran to the end (median over seeds, and its gap to no stopping).

    python benchmarks/early_stopping.py [--seeds 5] [--trials 60] [--steps 200]
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics

import numpy as np

from hyperion import Float, Int, ObjectiveResult, Proposal, Strategy, tune

SPACE = {"lr": Float(1e-4, 1.0, log=True), "layers": Int(1, 8), "dropout": Float(0.0, 0.5)}


def curve_params(lr: float, layers: int, dropout: float) -> tuple[float, float, float]:
    d = math.log10(lr) + 2.5  # best learning rate near 10**-2.5
    final = 0.1 + 0.1 * d**2 + 0.05 * (layers - 4) ** 2 / 16 + 0.2 * dropout
    a = 1.0 + 0.5 * dropout + 0.2 * layers / 8
    b = 0.3 + 0.4 * max(0.0, 1 - abs(d) / 2.5)  # a good learning rate also converges faster
    return final, a, b


def curve(params: dict, seed: int, index: int, steps: int) -> list[float]:
    final, a, b = curve_params(**params)
    noise = np.random.default_rng([seed, index]).normal(0, 0.003, steps)
    return [final + a * (s + 1) ** -b + noise[s] for s in range(steps)]


def points(seed: int, trials: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "lr": float(10 ** rng.uniform(-4, 0)),
            "layers": int(rng.integers(1, 9)),
            "dropout": float(rng.uniform(0, 0.5)),
        }
        for _ in range(trials)
    ]


class FixedPoints(Strategy):
    """Proposes a given list of points in order (every arm sees the same trials)."""

    def __init__(self, params: list[dict]) -> None:
        self.params = params

    def propose(self, study, slots):
        start = len(study.trials)
        return [Proposal(p) for p in self.params[start : start + slots]]


def run_hyperion(policy: str | None, kwargs: dict, seed: int, trials: int, steps: int) -> tuple[int, float]:
    plist = points(seed, trials)
    spent = []

    def objective(ctx, lr, layers, dropout):
        values = curve({"lr": lr, "layers": layers, "dropout": dropout}, seed, ctx.number, steps)
        for step, loss in enumerate(values):
            ctx.report(step=step, loss=loss)
            if ctx.should_stop():
                spent.append(step + 1)
                return ObjectiveResult(metrics={"loss": loss})
        spent.append(steps)
        return ObjectiveResult(metrics={"loss": values[-1]})

    result = tune(
        objective,
        SPACE,
        strategy=FixedPoints(plist),
        max_trials=trials,
        metric="loss",
        mode="min",
        early_stopping=policy,
        early_stopping_kwargs=kwargs or None,
    )
    return sum(spent), result["best"]["value"]


def run_optuna(pruner_name: str, seed: int, trials: int, steps: int) -> tuple[int, float]:
    import optuna

    plist = points(seed, trials)
    pruner = optuna.pruners.MedianPruner() if pruner_name == "median" else optuna.pruners.SuccessiveHalvingPruner()
    study = optuna.create_study(direction="minimize", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=seed))
    for p in plist:
        study.enqueue_trial(p)
    spent = []

    def objective(trial):
        p = {
            "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
            "layers": trial.suggest_int("layers", 1, 8),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        }
        values = curve(p, seed, trial.number, steps)
        for step, loss in enumerate(values):
            trial.report(loss, step)
            if trial.should_prune():
                spent.append(step + 1)
                raise optuna.TrialPruned()
        spent.append(steps)
        return values[-1]

    study.optimize(objective, n_trials=trials)
    return sum(spent), study.best_value


ARMS = {
    "no early stopping": ("hyperion", None, {}),
    "hyperion median (default: every report)": ("hyperion", "median", {}),
    "hyperion median (check_interval=10)": ("hyperion", "median", {"check_interval": 10}),
    "hyperion aggressive (every 25)": ("hyperion", "aggressive", {}),
    "hyperion percentile (top fifth, 2 in a row)": ("hyperion", "percentile", {}),
    "hyperion asha": ("hyperion", "asha", {}),
    "hyperion hyperband": ("hyperion", "hyperband", {"max_resource": 200}),
    "optuna MedianPruner": ("optuna", "median", {}),
    "optuna SuccessiveHalvingPruner": ("optuna", "sha", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("hyperion_core").setLevel(logging.ERROR)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    results: dict[str, list[tuple[int, float]]] = {}
    for name, (lib, policy, kwargs) in ARMS.items():
        runs = []
        for seed in range(args.seeds):
            if lib == "hyperion":
                runs.append(run_hyperion(policy, kwargs, seed, args.trials, args.steps))
            else:
                runs.append(run_optuna(policy, seed, args.trials, args.steps))
        results[name] = runs
    base = results["no early stopping"]
    print(f"{args.trials} trials x {args.steps} steps, {args.seeds} seeds; Optuna {optuna.__version__}\n")
    print(
        "| arm | total steps (median) | share of no stopping | best final loss (median) | gap to no stopping (worst seed) |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        steps = statistics.median(r[0] for r in runs)
        share = statistics.median(r[0] / b[0] for r, b in zip(runs, base))
        best = statistics.median(r[1] for r in runs)
        gaps = [(r[1] - b[1]) / b[1] for r, b in zip(runs, base)]
        print(
            f"| {name} | {steps:,.0f} | {share:.0%} | {best:.4f} | {statistics.median(gaps):+.2%} ({max(gaps):+.2%}) |"
        )


if __name__ == "__main__":
    main()
