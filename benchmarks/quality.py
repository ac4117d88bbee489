"""Search quality: best value found after 50 and 100 trials on standard problems, Hyperion's
strategies vs Optuna's samplers, side by side, over several seeds (all problems are minimised).

    python benchmarks/quality.py [--seeds 10] [--trials 100] [--problems branin ...] [--methods ...]
                                 [--concurrent 1] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from functions import PROBLEMS  # noqa: E402

from hyperion import tune  # noqa: E402

HYPERION = {
    "hyperion random": ("random", {}),
    "hyperion bayesian": ("bayesian", {}),
    "hyperion gp": ("gp", {}),
    "hyperion auto": ("auto", {}),
    "hyperion beam_search": ("beam_search", {}),
}
OPTUNA = ("optuna random", "optuna tpe (multivariate)")


def run_hyperion(problem: str, method: str, seed: int, trials: int, concurrent: int) -> tuple[list[float], float]:
    space, fn, _ = PROBLEMS[problem]
    strategy, kwargs = HYPERION[method]
    if strategy == "beam_search":  # a tree sized to the trial budget: 10 roots, then 5 parents x 2 children
        kwargs = {"K": 5, "width": 2, "max_depth": (trials - 10) // 10, "initial": 10}
    start = time.perf_counter()
    result = tune(
        lambda ctx, **p: fn(**p),
        space,
        strategy=strategy,
        strategy_kwargs=kwargs,
        max_trials=trials,
        max_concurrent=concurrent,
        reproducible=concurrent > 1,  # each proposal sees the other slots' trials running, whatever the timing
        mode="min",
        seed=seed,
    )
    elapsed = time.perf_counter() - start
    return [t["value"] for t in sorted(result["trials"], key=lambda t: t["finished"] or 0)], elapsed / trials


def run_optuna(problem: str, method: str, seed: int, trials: int, concurrent: int) -> tuple[list[float], float]:
    import optuna

    from hyperion import Choice, Float, Int

    space, fn, _ = PROBLEMS[problem]

    def objective(trial):
        params = {}
        for name, p in space.items():
            if isinstance(p, Float):
                params[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
            elif isinstance(p, Int):
                params[name] = trial.suggest_int(name, p.low, p.high, log=p.log)
            elif isinstance(p, Choice):
                params[name] = trial.suggest_categorical(name, p.options)
        return fn(**params)

    if method == "optuna random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=concurrent > 1)
    study = optuna.create_study(sampler=sampler)
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=concurrent)
    elapsed = time.perf_counter() - start
    return [t.value for t in study.trials], elapsed / trials


def cost_near(trials: int) -> list[str]:
    """Milliseconds per trial over the last 100 of `trials` on synth_ml (4-D mixed): model cost at scale."""
    import optuna

    space, fn, _ = PROBLEMS["synth_ml"]
    stamps: list[float] = []

    def ours(ctx, **p):
        stamps.append(time.perf_counter())
        return fn(**p)

    tune(ours, space, strategy="bayesian", max_trials=trials, mode="min", seed=0)
    mine = (stamps[-1] - stamps[-101]) / 100 * 1e3
    stamps.clear()

    def theirs(trial):
        stamps.append(time.perf_counter())
        return fn(
            optimizer=trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"]),
            lr=trial.suggest_float("lr", 1e-5, 1, log=True),
            layers=trial.suggest_int("layers", 1, 8),
            dropout=trial.suggest_float("dropout", 0, 0.5),
        )

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, multivariate=True))
    study.optimize(theirs, n_trials=trials)
    other = (stamps[-1] - stamps[-101]) / 100 * 1e3
    return [
        "",
        f"Cost per trial over trials {trials - 100}-{trials} (synth_ml, sequential): "
        f"Hyperion bayesian {mine:.1f} ms, Optuna TPE (multivariate) {other:.1f} ms, ratio {other / mine:.1f}x",
    ]


def best_at(values: list[float], n: int) -> float:
    return min(v for v in values[:n] if v is not None)


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seed0", type=int, default=0, help="first seed (seeds are seed0 .. seed0 + seeds - 1)")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=1)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", default=[*HYPERION, *OPTUNA])
    parser.add_argument("--write", help="append the Markdown table to this file")
    parser.add_argument("--cost-at", type=int, default=0, help="also time bayesian vs Optuna TPE near this trial count")
    args = parser.parse_args()
    logging.getLogger("hyperion_core").setLevel(logging.ERROR)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
    except ImportError:
        args.methods = [m for m in args.methods if not m.startswith("optuna")]
    half = args.trials // 2
    lines = [
        f"{args.seeds} seeds, {args.trials} trials, max_concurrent={args.concurrent}; median [IQR] of the best value "
        f"after {half} and {args.trials} trials; seconds per trial (mean over the run)",
        "",
        f"| problem | method | best@{half} | best@{args.trials} | s/trial |",
        "|---|---|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for problem in args.problems:
        for method in args.methods:
            runner = run_optuna if method.startswith("optuna") else run_hyperion
            at_half, at_end, costs = [], [], []
            for seed in range(args.seed0, args.seed0 + args.seeds):
                values, cost = runner(problem, method, seed, args.trials, args.concurrent)
                at_half.append(best_at(values, half))
                at_end.append(best_at(values, args.trials))
                costs.append(cost)
            h, e = quartiles(at_half), quartiles(at_end)
            line = (
                f"| {problem} | {method} | {h[1]:.4g} [{h[0]:.3g}, {h[2]:.3g}] | {e[1]:.4g} [{e[0]:.3g}, {e[2]:.3g}] "
                f"| {statistics.mean(costs):.4f} |"
            )
            lines.append(line)
            print(line, flush=True)
    if args.cost_at:
        extra = cost_near(args.cost_at)
        print("\n".join(extra), flush=True)
        lines += extra
    if args.write:
        with open(args.write, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
