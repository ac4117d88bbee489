"""The public COCO BBOB suite (24 functions), side by side in one run: Hyperion's `bayesian` against
Optuna's TPE (multivariate) and CMA-ES and Nevergrad's NGOpt. One seed per instance; a run's score is
log10(best - f_opt + 1e-8); per function the median over instances; methods ranked per function.

    pip install -e '.[bench]'
    python benchmarks/bbob.py [--dims 5] [--budget 100] [--instances 1-5] [--methods bayesian,...]

Parallel slots: `gp+concurrent=4` (Hyperion, reproducible=True) and `optuna-tpe-4` (Optuna's TPE with its
constant liar, asked and told in the same order); `--reference gp` counts the functions each method is
within 0.05 of the reference on.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import statistics
import tempfile
import time
from collections import defaultdict

import numpy as np

from hyperion import Float, tune


def f_opt(problem) -> float:
    """The problem's optimal value: cocoex writes its best parameter to a file in the working directory."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            problem._best_parameter("print")
            x = np.loadtxt("._bbob_problem_best_parameter.txt")
        finally:
            os.chdir(here)
    return float(problem(x))


def lagged(strategy: str, kwargs: dict, lag: int):
    """The strategy, told of each finished trial only once `lag` more have finished: one trial at a
    time, it proposes with the information a run at lag + 1 slots has, and nothing is running."""
    from hyperion_core.plugins import registry

    instance = registry().strategy(strategy, kwargs or None)
    held: collections.deque = collections.deque()
    observe = instance.observe

    def delayed(trial) -> None:
        held.append(trial)
        if len(held) > lag:
            observe(held.popleft())

    instance.observe = delayed
    return instance


def run_hyperion(
    problem, strategy: str, budget: int, seed: int, concurrent: int = 1, seed_offset: int = 0, lag: int = 0, **kwargs
) -> float:
    """`seed_offset` runs the same method on other seeds (how far apart two runs of one method land);
    `lag` gives the strategy each result only after `lag` more (what parallel slots cost it in information)."""
    seed += seed_offset
    if lag:
        strategy, kwargs = lagged(strategy, kwargs, lag), {}
    dims = problem.dimension
    space = {f"x{i}": Float(float(problem.lower_bounds[i]), float(problem.upper_bounds[i])) for i in range(dims)}
    result = tune(
        lambda ctx, **x: float(problem([x[f"x{i}"] for i in range(dims)])),
        space,
        strategy=strategy,
        strategy_kwargs=kwargs or None,
        max_concurrent=concurrent,
        reproducible=concurrent > 1,  # each proposal sees the other slots' trials running, whatever the timing
        mode="min",
        max_trials=budget,
        seed=seed,
    )
    return result["best"]["value"]


def run_optuna(problem, sampler: str, budget: int, seed: int, concurrent: int = 1) -> float:
    """`concurrent` > 1: trial n is asked once trial n - concurrent is told (as Hyperion's
    reproducible=True runs), and TPE treats running trials with its constant liar."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lo, hi = problem.lower_bounds, problem.upper_bounds
    chosen = (
        optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=concurrent > 1)
        if sampler == "tpe"
        else optuna.samplers.CmaEsSampler(seed=seed)
    )
    study = optuna.create_study(sampler=chosen)
    running: collections.deque = collections.deque()

    def finish() -> None:  # the oldest running trial
        trial = running.popleft()
        study.tell(trial, float(problem([trial.params[f"x{i}"] for i in range(problem.dimension)])))

    for _ in range(budget):
        if len(running) == concurrent:
            finish()
        trial = study.ask()
        for i in range(problem.dimension):
            trial.suggest_float(f"x{i}", lo[i], hi[i])
        running.append(trial)
    while running:
        finish()
    return study.best_value


def run_ngopt(problem, budget: int, seed: int) -> float:
    import nevergrad as ng

    param = ng.p.Array(shape=(problem.dimension,)).set_bounds(problem.lower_bounds, problem.upper_bounds)
    param.random_state = np.random.RandomState(seed)
    optimizer = ng.optimizers.NGOpt(parametrization=param, budget=budget)
    best = math.inf
    for _ in range(budget):
        candidate = optimizer.ask()
        value = float(problem(candidate.value))
        best = min(best, value)
        optimizer.tell(candidate, value)
    return best


# The other libraries; any other name is a Hyperion strategy, with arguments (see method()).
METHODS = {
    "optuna-tpe": lambda p, b, s: run_optuna(p, "tpe", b, s),
    "optuna-cmaes": lambda p, b, s: run_optuna(p, "cmaes", b, s),
    "optuna-tpe-4": lambda p, b, s: run_optuna(p, "tpe", b, s, concurrent=4),
    "ngopt": run_ngopt,
}


ANCHORS = ("optuna-tpe", "optuna-cmaes", "ngopt")


def method(name: str):
    """A method by name; a Hyperion strategy may carry arguments: "gp+warp=rank+n_startup=8"."""
    if name in METHODS:
        return METHODS[name]
    strategy, *pairs = name.split("+")
    kwargs = arguments(pairs)
    return lambda p, b, s: run_hyperion(p, strategy, b, s, **kwargs)


def arguments(pairs: list[str]) -> dict:
    """["n_startup=8", "warp=log"] -> {"n_startup": 8, "warp": "log"}: whole numbers, numbers, else text."""
    kwargs: dict = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            kwargs[key] = int(value)
        except ValueError:
            try:
                kwargs[key] = float(value)
            except ValueError:
                kwargs[key] = value
    return kwargs


def run_suite(methods, dims="5", budget=100, instances="1-5", functions="1-24", cache_path=None, seeds=1):
    """Median log10(best - f_opt) per method and problem ("f08" or, over several dimensions,
    "f08-d10"), and the seconds each method spent. The anchors' seeded runs are kept in `cache_path`.
    `seeds`: runs per instance (seeds instance, instance + 1000, ...), for a median that one lucky or
    unlucky seed moves less."""
    import cocoex

    cache: dict[str, list[float]] = {}
    if cache_path and os.path.exists(cache_path):
        with open(cache_path) as f:
            cache = json.load(f)
    suite = cocoex.Suite("bbob", "", f"function_indices:{functions} dimensions:{dims} instance_indices:{instances}")
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))  # method -> problem -> runs
    seconds: dict[str, float] = defaultdict(float)
    several = "," in str(dims)
    for problem in suite:
        optimum = f_opt(problem)
        function = f"f{problem.id_function:02d}" + (f"-d{problem.dimension:02d}" if several else "")
        for name in methods:
            for run in range(seeds):
                key = f"{name}|{problem.id}|{budget}" + (f"|{run}" if run else "")
                began = time.perf_counter()
                if name in ANCHORS and key in cache:
                    best, spent = cache[key]
                else:
                    best = method(name)(problem, budget, problem.id_instance + 1000 * run)
                    spent = time.perf_counter() - began
                    if name in ANCHORS:
                        cache[key] = [best, spent]
                seconds[name] += spent
                scores[name][function].append(math.log10(max(best - optimum, 0.0) + 1e-8))
    if cache_path:
        with open(cache_path, "w") as f:
            json.dump(cache, f)
    problems = sorted(scores[methods[0]])
    medians = {m: {f: statistics.median(scores[m][f]) for f in problems} for m in methods}
    return medians, seconds


def mean_ranks(medians, methods):
    """Each method's rank per problem (ties share the mean rank), averaged."""
    problems = sorted(medians[methods[0]])
    ranks: dict[str, list[float]] = defaultdict(list)
    for f in problems:
        ordered = sorted(methods, key=lambda m: medians[m][f])
        for m in methods:
            tied = [i + 1 for i, o in enumerate(ordered) if medians[o][f] == medians[m][f]]
            ranks[m].append(statistics.fmean(tied))
    return {m: statistics.fmean(ranks[m]) for m in methods}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dims", default="5")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--instances", default="1-5")
    parser.add_argument("--functions", default="1-24", help="BBOB function numbers, e.g. 1,8,15 or 1-24")
    parser.add_argument("--methods", default="ngopt,optuna-tpe,bayesian,optuna-cmaes")
    parser.add_argument("--cache", help="a JSON file keeping the other libraries' runs (seeded, so reusable)")
    parser.add_argument("--seeds", type=int, default=1, help="runs per instance (the median is over all)")
    parser.add_argument(
        "--reference",
        help="a method the others are measured against: on how many functions each is within 0.05 of it "
        "(log10, or better) and the mean gap, e.g. gp against gp+concurrent=4 (the search issue, item 4)",
    )
    args = parser.parse_args()
    methods = args.methods.split(",")
    if args.reference and args.reference not in methods:
        methods.append(args.reference)
    medians, seconds = run_suite(
        methods, args.dims, args.budget, args.instances, args.functions, args.cache, args.seeds
    )
    ranks = mean_ranks(medians, methods)
    problems = sorted(medians[methods[0]])
    print(
        f"BBOB d={args.dims}, budget {args.budget}, instances {args.instances}: mean rank over {len(problems)} problems\n"
    )
    ours = [m for m in methods if m not in ANCHORS]
    anchors = [m for m in methods if m in ANCHORS]
    if len(ours) > 1 and anchors:  # each of ours ranked against the anchors alone ("among the four")
        alone = {m: mean_ranks(medians, [m, *anchors]) for m in ours}
        print("| method | mean rank among it and the anchors | " + " | ".join(anchors) + " | seconds |")
        print("|---|---:|" + "---:|" * len(anchors) + "---:|")
        for m in sorted(ours, key=lambda m: alone[m][m]):
            cells = " | ".join(f"{alone[m][a]:.2f}" for a in anchors)
            print(f"| {m} | {alone[m][m]:.2f} | {cells} | {seconds[m]:.1f} |")
        print("\nanchors alone: " + ", ".join(f"{a} {seconds[a]:.1f} s" for a in anchors) + "\n")
    else:
        print("| method | mean rank (1 = best) | seconds for all runs |")
        print("|---|---:|---:|")
        for m in sorted(methods, key=ranks.get):
            print(f"| {m} | {ranks[m]:.2f} | {seconds[m]:.1f} |")
    print("\nper function, median log10(best - f_opt):\n")
    print("| function | " + " | ".join(methods) + " |")
    print("|---|" + "---:|" * len(methods))
    for f in problems:
        print(f"| {f} | " + " | ".join(f"{medians[m][f]:.2f}" for m in methods) + " |")
    if args.reference:
        print(f"\nagainst {args.reference} (gap: median log10 regret minus the reference's; within 0.05 or below):\n")
        print("| method | functions within 0.05 | mean gap |")
        print("|---|---:|---:|")
        for m in methods:
            if m != args.reference:
                within, gap = reference_gaps(medians, m, args.reference)
                print(f"| {m} | {within} / {len(problems)} | {gap:+.3f} |")


def reference_gaps(medians, method: str, reference: str) -> tuple[int, float]:
    """On how many problems `method`'s median is within 0.05 of `reference`'s (or better), and the mean gap."""
    gaps = [medians[method][f] - medians[reference][f] for f in medians[reference]]
    return sum(g <= 0.05 for g in gaps), statistics.fmean(gaps)


if __name__ == "__main__":
    main()
