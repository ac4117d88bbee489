"""Persistence cost: instant trials on SQLite, Hyperion vs Optuna's RDBStorage, side by side.

    python benchmarks/storage.py [--trials 1000] [--reports 0]

Prints trials/s, the ratio, and the cost per trial over the first and the last 100 trials (flat
means no per-trial reload of the study).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from hyperion import Choice, Float, Int, tune

SPACE = {
    "lr": Float(1e-5, 1.0, log=True),
    "dropout": Float(0.0, 0.5),
    "layers": Int(1, 8),
    "optimizer": Choice(["sgd", "adam", "rmsprop"]),
}


def _window_costs(stamps: list[float]) -> tuple[float, float]:
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return statistics.mean(gaps[:100]) * 1e3, statistics.mean(gaps[-100:]) * 1e3


def run_hyperion(path: Path, trials: int, reports: int) -> tuple[float, float, float]:
    stamps: list[float] = []

    def objective(ctx, lr, dropout, layers, optimizer):
        stamps.append(time.perf_counter())
        for step in range(reports):
            ctx.report(step=step, loss=lr * step)
        return lr + dropout + layers

    start = time.perf_counter()
    tune(objective, SPACE, max_trials=trials, storage=f"sqlite:///{path}", seed=0)
    return trials / (time.perf_counter() - start), *_window_costs(stamps)


def run_optuna(path: Path, trials: int, reports: int) -> tuple[float, float, float]:
    import optuna

    stamps: list[float] = []

    def objective(trial):
        stamps.append(time.perf_counter())
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        dropout = trial.suggest_float("dropout", 0.0, 0.5)
        layers = trial.suggest_int("layers", 1, 8)
        trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
        for step in range(reports):
            trial.report(lr * step, step)
        return lr + dropout + layers

    study = optuna.create_study(
        storage=f"sqlite:///{path}", direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return trials / (time.perf_counter() - start), *_window_costs(stamps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--reports", type=int, default=0, help="ctx.report calls per trial")
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("hyperion_core").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_hyperion(Path(tmp) / "hyperion.db", args.trials, args.reports)
        theirs = run_optuna(Path(tmp) / "optuna.db", args.trials, args.reports)
    print(
        f"{args.trials} instant trials on SQLite, {args.reports} reports each, sequential; Optuna {optuna.__version__}\n"
    )
    print("| | trials/s | ms/trial, first 100 | ms/trial, last 100 |")
    print("|---|---:|---:|---:|")
    print(f"| Hyperion | {ours[0]:,.0f} | {ours[1]:.2f} | {ours[2]:.2f} |")
    print(f"| Optuna RDBStorage | {theirs[0]:,.1f} | {theirs[1]:.2f} | {theirs[2]:.2f} |")
    print(f"| ratio | {ours[0] / theirs[0]:.0f}x | | |")


if __name__ == "__main__":
    main()
