"""Framework overhead: an instant objective on a 4-parameter mixed space, Hyperion random search vs
Optuna's RandomSampler, in-memory, side by side in one process.

    python benchmarks/overhead.py [--trials 1000 5000] [--concurrency 1 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import platform
import time

from hyperion import Choice, Float, Int, tune

SPACE = {
    "lr": Float(1e-5, 1.0, log=True),
    "dropout": Float(0.0, 0.5),
    "layers": Int(1, 8),
    "optimizer": Choice(["sgd", "adam", "rmsprop"]),
}


def hyperion_objective(ctx, lr, dropout, layers, optimizer):
    return lr + dropout + layers


def run_hyperion(trials: int, concurrency: int, pool: bool = False) -> float:
    # max_time_s makes the loop keep a deadline, so even one slot runs on the thread pool (no inline path).
    limit = {"max_time_s": 3600} if pool else {}
    start = time.perf_counter()
    tune(hyperion_objective, SPACE, strategy="random", max_trials=trials, max_concurrent=concurrency, seed=0, **limit)
    return trials / (time.perf_counter() - start)


def run_optuna(trials: int, concurrency: int) -> float:
    import optuna

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        dropout = trial.suggest_float("dropout", 0.0, 0.5)
        layers = trial.suggest_int("layers", 1, 8)
        trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
        return lr + dropout + layers

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=concurrency)
    return trials / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the best is reported")
    args = parser.parse_args()
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna_version = optuna.__version__
    except ImportError:
        optuna = None
        optuna_version = "not installed (pip install optuna)"
    logging.getLogger("hyperion_core").setLevel(logging.WARNING)
    print(f"Python {platform.python_version()}, Optuna {optuna_version}; best of {args.repeat} runs; trials/s\n")
    print("| trials | concurrent | Hyperion trials/s | Optuna trials/s | ratio |")
    print("|---:|---:|---:|---:|---:|")
    for trials in args.trials:
        for concurrency in args.concurrency:
            ours = max(run_hyperion(trials, concurrency) for _ in range(args.repeat))
            theirs = max(run_optuna(trials, concurrency) for _ in range(args.repeat)) if optuna else float("nan")
            print(f"| {trials} | {concurrency} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.1f}x |", flush=True)
            if concurrency == 1:
                pooled = max(run_hyperion(trials, 1, pool=True) for _ in range(args.repeat))
                print(
                    f"| {trials} | 1, thread pool | {pooled:,.0f} | {theirs:,.0f} | {pooled / theirs:.1f}x |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
