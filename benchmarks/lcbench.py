"""Search on real HPO tasks, side by side in one run: Hyperion's `auto`, `bayesian` and `random` against
Optuna's TPE (5.0 defaults: multivariate) and Nevergrad's NGOpt, on the YAHPO Gym surrogates in
../shared/bench/yahpo (search issue, items 1 and 5).

Problems (`--problem`):
- `lcbench-grid`: LCBench's seven parameters as users write them for real runs: numbers on grids
  (Choice([16, 32, ..., 512]), log-spaced learning rates and weight decays, Int positions of a list),
  final (epoch 52) validation accuracy, maximised;
- `lcbench`: LCBench's native space (log-scaled floats and ints);
- `rbv2_xgboost`: XGBoost's conditional, mixed space (booster gblinear/gbtree/dart, 14 parameters), the
  accuracy at the full training set, maximised.
Tasks: LCBench's ten development tasks (../shared/bench/yahpo/README.md) by default; `--check` runs the
24 others (never used to choose a default). rbv2_xgboost: the first ten of its instances (`--check`:
the next ten).

Per task, each method's mean best over the seeds; methods ranked per task (ties share the mean rank).
A Hyperion method may name parallel slots and the strategy's arguments: "hyperion bayesian x4 gamma=0.1"
(four slots with reproducible=True, strategy_kwargs={"gamma": 0.1}).
`--fidelity` runs the multi-fidelity comparison instead (see fidelity_main).

Needs numpy<2 for yahpo-gym's ConfigSpace: run it in its own environment
    python3 -m venv /tmp/yahpovenv
    /tmp/yahpovenv/bin/pip install yahpo-gym onnxruntime 'optuna==5.0.0' nevergrad -e .
    /tmp/yahpovenv/bin/python benchmarks/lcbench.py --problem lcbench-grid [--seeds 3] [--trials 100]
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import statistics
import sys
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from asha_lcbench import DATA, TASKS  # noqa: E402  (the development tasks and the data's place)
from bbob import arguments  # noqa: E402  ("n_candidates=128" -> {"n_candidates": 128})

from hyperion import Choice, Float, Int, tune  # noqa: E402

CHECK_TASKS = [
    "167161", "167168", "167181", "167184", "167185", "167190", "167200", "167201", "168329", "168330",
    "168331", "168335", "168868", "168908", "168910", "189354", "189862", "189865", "189866", "189873",
    "189905", "189906", "189908", "189909",
]  # fmt: skip
EPOCHS = 52
METHODS = ["hyperion auto", "hyperion bayesian", "hyperion random", "optuna tpe", "nevergrad ngopt"]

# A neutral description of each space: (name, kind, args); kind float/int (low, high, log) or choice
# (options); `when` marks a parameter active only for some values of another (rbv2's booster).
GRIDS: list[tuple[str, str, Any]] = [
    ("batch_size", "choice", [16, 32, 64, 128, 256, 512]),
    ("learning_rate", "choice", [round(10 ** (-4 + i / 3), 6) for i in range(10)]),  # 1e-4 .. 1e-1
    ("max_dropout", "int", (0, 10, False)),  # the position in [0, 0.1, ..., 1.0]
    ("max_units", "choice", [64, 128, 256, 512, 1024]),
    ("momentum", "float", (0.1, 0.99, False)),
    ("num_layers", "int", (1, 5, False)),
    ("weight_decay", "choice", [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]),
]
NATIVE: list[tuple[str, str, Any]] = [
    ("batch_size", "int", (16, 512, True)),
    ("learning_rate", "float", (1e-4, 1e-1, True)),
    ("max_dropout", "float", (0.0, 1.0, False)),
    ("max_units", "int", (64, 1024, True)),
    ("momentum", "float", (0.1, 0.99, False)),
    ("num_layers", "int", (1, 5, False)),
    ("weight_decay", "float", (1e-5, 1e-1, True)),
]
TREE = ("gbtree", "dart")
XGB: list[tuple[str, str, Any, tuple[str, ...] | None]] = [
    ("alpha", "float", (0.0009118819655545162, 1096.6331584284585, True), None),
    ("lambda", "float", (0.0009118819655545162, 1096.6331584284585, True), None),
    ("nrounds", "int", (7, 2981, True), None),
    ("subsample", "float", (0.1, 1.0, False), None),
    ("impute", "choice", ["impute.mean", "impute.median", "impute.hist"], None),
    ("colsample_bylevel", "float", (0.01, 1.0, False), TREE),
    ("colsample_bytree", "float", (0.01, 1.0, False), TREE),
    ("eta", "float", (0.0009118819655545162, 1.0, True), TREE),
    ("gamma", "float", (4.5399929762484854e-05, 7.38905609893065, True), TREE),
    ("max_depth", "int", (1, 15, False), TREE),
    ("min_child_weight", "float", (2.718281828459045, 148.4131591025766, True), TREE),
    ("rate_drop", "float", (0.0, 1.0, False), ("dart",)),
    ("skip_drop", "float", (0.0, 1.0, False), ("dart",)),
]
BOOSTERS = ["gblinear", "gbtree", "dart"]

_BENCH: dict[str, Any] = {}


def bench(scenario: str, task: str) -> Any:
    """YAHPO's surrogate for the scenario, set to the task (one per process, reused)."""
    from yahpo_gym import benchmark_set, local_config

    if scenario not in _BENCH:
        local_config.init_config()
        local_config.set_data_path(str(DATA))
        _BENCH[scenario] = benchmark_set.BenchmarkSet(scenario)
    b = _BENCH[scenario]
    b.set_instance(task)
    return b


def tasks(problem: str, check: bool) -> list[str]:
    if problem.startswith("lcbench"):
        return CHECK_TASKS if check else TASKS
    instances = bench("rbv2_xgboost", "16").instances
    return instances[10:20] if check else instances[:10]


# -- one evaluation: flat parameters (names as in the specs) -> the accuracy to maximise ------------------
def lcbench_config(task: str, flat: dict[str, Any]) -> dict[str, Any]:
    """An LCBench configuration of the native space's flat parameters, for the surrogate."""
    # the surrogate's own bounds are 1e-4 and 1e-1 plus round-off: keep the ends inside
    rate = min(max(flat["learning_rate"], 1.0000000000000009e-4), 0.1)
    return {**flat, "learning_rate": rate, "OpenML_task_id": task}


def evaluate(problem: str, task: str, flat: dict[str, Any], epoch: int = EPOCHS) -> dict[str, float]:
    if problem.startswith("lcbench"):
        if problem == "lcbench-grid":
            flat = {**flat, "max_dropout": flat["max_dropout"] / 10}
        row = bench("lcbench", task).objective_function({**lcbench_config(task, flat), "epoch": epoch})[0]
        return {"acc": float(row["val_accuracy"]), "time": float(row["time"])}
    config = {k: v for k, v in flat.items() if k != "impute"}
    config["num.impute.selected.cpo"] = flat["impute"]
    booster = config["booster"]
    for name, _, _, when in XGB:
        if when is not None and booster not in when:
            config.pop(name, None)
    b = bench("rbv2_xgboost", task)
    row = b.objective_function({**config, "task_id": task, "trainsize": 1.0, "repl": 10})[0]
    return {"acc": 100 * float(row["acc"]), "time": float(row["timetrain"])}


def _spec(problem: str) -> list[tuple[str, str, Any, tuple[str, ...] | None]]:
    if problem == "rbv2_xgboost":
        return XGB
    return [(*p, None) for p in (GRIDS if problem == "lcbench-grid" else NATIVE)]


# -- the space in each library's terms --------------------------------------------------------------------
def hyperion_space(problem: str) -> dict[str, Any]:
    def param(kind: str, args: Any) -> Any:
        if kind == "choice":
            return Choice(args)
        return (Float if kind == "float" else Int)(args[0], args[1], log=args[2])

    spec = _spec(problem)
    space = {name: param(kind, args) for name, kind, args, when in spec if when is None}
    if problem == "rbv2_xgboost":
        space["booster"] = Choice(
            [
                {"name": b, **{n: param(k, a) for n, k, a, when in spec if when is not None and b in when}}
                for b in BOOSTERS
            ]
        )
    return space


def hyperion_flat(params: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in params.items() if k != "booster"}
    if "booster" in params:
        flat.update({k: v for k, v in params["booster"].items() if k != "name"})
        flat["booster"] = params["booster"]["name"]
    return flat


def optuna_flat(trial: Any, problem: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    if problem == "rbv2_xgboost":
        flat["booster"] = trial.suggest_categorical("booster", BOOSTERS)
    for name, kind, args, when in _spec(problem):
        if when is not None and flat["booster"] not in when:
            continue
        if kind == "choice":
            flat[name] = trial.suggest_categorical(name, args)
        elif kind == "int":
            flat[name] = trial.suggest_int(name, args[0], args[1], log=args[2])
        else:
            flat[name] = trial.suggest_float(name, args[0], args[1], log=args[2])
    return flat


def nevergrad_space(problem: str) -> Any:
    """Numbers on a grid as ordered choices (TransitionChoice), as a Nevergrad user would write them;
    rbv2's conditional parameters are always present (Nevergrad has no conditional spaces) and ignored
    when their booster is not chosen."""
    import nevergrad as ng

    params: dict[str, Any] = {}
    for name, kind, args, _ in _spec(problem):
        if kind == "choice":
            numeric = all(isinstance(o, (int, float)) for o in args)
            params[name] = ng.p.TransitionChoice(args) if numeric else ng.p.Choice(args)
        elif kind == "int":
            params[name] = ng.p.Scalar(lower=args[0], upper=args[1]).set_integer_casting()
            if args[2]:
                params[name] = ng.p.Log(lower=args[0], upper=args[1]).set_integer_casting()
        else:
            params[name] = (ng.p.Log if args[2] else ng.p.Scalar)(lower=args[0], upper=args[1])
    if problem == "rbv2_xgboost":
        params["booster"] = ng.p.Choice(BOOSTERS)
    return ng.p.Dict(**params)


# -- one run: the best accuracy found in `trials` evaluations --------------------------------------------
def run(method: str, problem: str, task: str, seed: int, trials: int) -> float:
    if method.startswith("hyperion"):
        # "hyperion bayesian x4 gamma=0.1": four slots (reproducible=True), and the strategy's arguments
        _, strategy, *rest = method.split()
        slots = int(rest.pop(0)[1:]) if rest and rest[0].startswith("x") else 1
        kwargs = arguments(rest)
        result = tune(
            lambda ctx, **p: evaluate(problem, task, hyperion_flat(p))["acc"],
            hyperion_space(problem),
            strategy=strategy,
            strategy_kwargs=kwargs or None,
            max_concurrent=slots,
            reproducible=slots > 1,
            max_trials=trials,
            mode="max",
            seed=seed,
        )
        return float(result["best"]["value"])
    if method == "optuna tpe":
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(lambda t: evaluate(problem, task, optuna_flat(t, problem))["acc"], n_trials=trials)
        return float(study.best_value)
    import nevergrad as ng

    param = nevergrad_space(problem)
    param.random_state.seed(seed)
    optimizer = ng.optimizers.NGOpt(parametrization=param, budget=trials, num_workers=1)
    best = -math.inf
    for _ in range(trials):
        cand = optimizer.ask()
        acc = evaluate(problem, task, dict(cand.value))["acc"]
        best = max(best, acc)
        optimizer.tell(cand, -acc)
    return best


def _job(args: tuple[str, str, str, int, int]) -> tuple[str, str, int, float]:
    method, problem, task, seed, trials = args
    logging.getLogger("hyperion").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    return method, task, seed, run(method, problem, task, seed, trials)


def ranks(values: dict[str, float]) -> dict[str, float]:
    """Rank 1 for the highest value; ties share the mean of their ranks."""
    order = sorted(values, key=lambda m: -values[m])
    out: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and math.isclose(values[order[j + 1]], values[order[i]], abs_tol=1e-9):
            j += 1
        for m in order[i : j + 1]:
            out[m] = (i + j) / 2 + 1
        i = j + 1
    return out


def table(problem: str, results: dict[str, dict[str, list[float]]], methods: list[str], task_list: list[str]) -> None:
    means = {t: {m: statistics.mean(results[m][t]) for m in methods} for t in task_list}
    task_ranks = {t: ranks(means[t]) for t in task_list}
    print(f"\n{problem}: mean best validation accuracy % over the seeds, per task (rank)\n")
    print("| task | " + " | ".join(methods) + " |")
    print("|---|" + "---:|" * len(methods))
    for t in task_list:
        print(f"| {t} | " + " | ".join(f"{means[t][m]:.2f} ({task_ranks[t][m]:g})" for m in methods) + " |")
    print(
        "| **mean rank** | "
        + " | ".join(f"**{statistics.mean(task_ranks[t][m] for t in task_list):.2f}**" for m in methods)
        + " |"
    )
    if "hyperion auto" in methods and "optuna tpe" in methods:
        wins = sum(means[t]["hyperion auto"] >= means[t]["optuna tpe"] - 1e-9 for t in task_list)
        print(f"\n`auto` at or above Optuna's TPE on {wins} of {len(task_list)} tasks")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problem", default="lcbench-grid", choices=["lcbench-grid", "lcbench", "rbv2_xgboost"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--check", action="store_true", help="the tasks never used to choose a default")
    parser.add_argument("--methods", nargs="*", default=METHODS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--fidelity", action="store_true", help="the multi-fidelity comparison (item 5)")
    parser.add_argument("--budget", type=float, default=20, help="--fidelity: full runs' time to spend")
    args = parser.parse_args()
    if args.fidelity:
        from lcbench_fidelity import fidelity_main

        fidelity_main(args)
        return
    task_list = tasks(args.problem, args.check)
    jobs = [(m, args.problem, t, s, args.trials) for t in task_list for s in range(args.seeds) for m in args.methods]
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for method, task, seed, best in pool.imap_unordered(_job, jobs):
            results[method][task].append(best)
            print(f"{args.problem} {task} seed {seed} {method}: {best:.3f}", flush=True)
    table(args.problem, results, args.methods, task_list)


if __name__ == "__main__":
    main()
