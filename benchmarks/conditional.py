"""Search quality on a conditional space: a model choice with per-model hyperparameters, Hyperion's
bayesian and random search against Optuna's TPE with define-by-run (multivariate, group=True).

    python benchmarks/conditional.py [--seeds 10] [--trials 60]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from hyperion import Choice, Float, Int, tune

SPACE = {
    "model": Choice(
        [
            {"name": "adam", "lr": Float(1e-5, 1, log=True), "beta": Float(0.5, 0.999)},
            {"name": "sgd", "lr": Float(1e-5, 1, log=True), "momentum": Float(0, 0.99)},
            {"name": "rf", "depth": Int(1, 30), "trees": Int(10, 500, log=True)},
        ]
    )
}


def loss(model: dict) -> float:
    """Minimum 0 at sgd, lr=10**-1.3, momentum=0.9; adam bottoms out at 0.3, rf at 0.5."""
    if model["name"] == "sgd":
        return 0.1 * (math.log10(model["lr"]) + 1.3) ** 2 + (model["momentum"] - 0.9) ** 2
    if model["name"] == "adam":
        return 0.3 + 0.1 * (math.log10(model["lr"]) + 3) ** 2 + (model["beta"] - 0.9) ** 2
    return 0.5 + (model["depth"] - 12) ** 2 / 400 + 0.3 * (math.log10(model["trees"]) - 2) ** 2


def narrow(model: dict) -> float:
    """A harsher variant: sgd and adam alike in shape, sgd better only near its optimum (min 0)."""
    if model["name"] == "sgd":
        return (math.log10(model["lr"]) + 1.3) ** 2 + (model["momentum"] - 0.9) ** 2
    if model["name"] == "adam":
        return 0.5 + (math.log10(model["lr"]) + 3) ** 2 + (model["beta"] - 0.9) ** 2
    return 0.8 + (model["depth"] - 12) ** 2 / 100 + (math.log10(model["trees"]) - 2) ** 2


PROBLEMS = {"model_choice": loss, "model_choice_narrow": narrow}


def optuna_best(seed: int, trials: int, loss=loss) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        name = trial.suggest_categorical("name", ["adam", "sgd", "rf"])
        if name == "rf":
            return loss(
                {
                    "name": name,
                    "depth": trial.suggest_int("depth", 1, 30),
                    "trees": trial.suggest_int("trees", 10, 500, log=True),
                }
            )
        lr = trial.suggest_float(f"{name}_lr", 1e-5, 1, log=True)
        if name == "adam":
            return loss({"name": name, "lr": lr, "beta": trial.suggest_float("adam_beta", 0.5, 0.999)})
        return loss({"name": name, "lr": lr, "momentum": trial.suggest_float("sgd_momentum", 0, 0.99)})

    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=trials)
    return study.best_value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=60)
    args = parser.parse_args()
    print(f"conditional model choice, {args.trials} trials, {args.seeds} seeds: median best [min, max]; seconds\n")
    print("| problem | method | median best | range | seconds |")
    print("|---|---|---:|---:|---:|")
    for problem, f in PROBLEMS.items():
        for method in ("bayesian", "auto", "random", "optuna-tpe"):
            began, values = time.perf_counter(), []
            for seed in range(args.seeds):
                if method == "optuna-tpe":
                    values.append(optuna_best(seed, args.trials, f))
                else:
                    objective = lambda ctx, model, f=f: f(model)  # noqa: E731
                    result = tune(objective, SPACE, strategy=method, mode="min", max_trials=args.trials, seed=seed)
                    values.append(result["best"]["value"])
            spread = f"{min(values):.4f}-{max(values):.4f}"
            print(
                f"| {problem} | {method} | {statistics.median(values):.4f} | {spread} | {time.perf_counter() - began:.1f} |"
            )


if __name__ == "__main__":
    main()
