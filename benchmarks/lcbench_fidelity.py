"""Multi-fidelity search on real learning curves (search issue, item 5): `python benchmarks/lcbench.py
--fidelity`. LCBench's native space, the ten development tasks (`--check`: the 24 others), 3 seeds.

Every method trains trials epoch by epoch (52 at most) and is charged the training time the surrogate
reports (`time` at the epoch a trial reached), until it has spent the budget: `--budget` (20) times the
median time of a full 52-epoch run on that task. Reported: the best final (epoch 52) validation accuracy
among the trials that trained to the end, per task the mean over the seeds, and the methods' ranks.

- hyperion <policy> + <strategy>: Hyperion's `asha` or `hyperband` with that strategy's proposals
  (`bayesian` is what a study that names no strategy gets under these policies); a strategy may carry
  float arguments: "hyperion asha + bayesian:bandwidth=2";
- hyperion auto, no stopping: every trial trains 52 epochs;
- optuna hyperband + tpe: Optuna's HyperbandPruner with its TPESampler (5.0 defaults); + random: with
  its RandomSampler (which of the two, pruner or sampler, makes the difference);
- optuna sha + tpe: Optuna's SuccessiveHalvingPruner with TPE.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import random
import statistics
import warnings
from collections import defaultdict
from typing import Any

from lcbench import CHECK_TASKS, EPOCHS, bench, hyperion_space, lcbench_config, optuna_flat, ranks
from lcbench import TASKS as DEV_TASKS

FIDELITY_METHODS = [
    "hyperion asha + bayesian",
    "hyperion hyperband + bayesian",
    "hyperion asha + auto",
    "hyperion asha + random",
    "hyperion hyperband + random",
    "hyperion auto, no stopping",
    "optuna hyperband + tpe",
    "optuna hyperband + random",
    "optuna sha + tpe",
]
#: What the search issue's item 5 measures a multi-fidelity method against.
REFERENCES = ["hyperion asha + random", "optuna hyperband + tpe", "hyperion auto, no stopping"]


def curve(task: str, flat: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Validation accuracy and cumulative training time at epochs 1..52 (one surrogate call)."""
    config = lcbench_config(task, flat)
    rows = bench("lcbench", task).objective_function([{**config, "epoch": e} for e in range(1, EPOCHS + 1)])
    return [float(r["val_accuracy"]) for r in rows], [float(r["time"]) for r in rows]


def full_time(task: str) -> float:
    """The median time of a full run over 25 configurations drawn with a fixed seed: the budget's unit."""
    space = bench("lcbench", task).get_opt_space(drop_fidelity_params=True, seed=12345)
    times = []
    for config in space.sample_configuration(25):
        values = {k: v for k, v in config.get_dictionary().items() if k != "OpenML_task_id"}
        times.append(curve(task, values)[1][-1])
    return statistics.median(times)


class Ledger:
    """What a method spent and the best final accuracy it found."""

    def __init__(self, budget: float) -> None:
        self.budget, self.spent, self.best = budget, 0.0, -math.inf

    @property
    def open(self) -> bool:
        return self.spent < self.budget

    def charge(self, acc: list[float], time: list[float], reached: int) -> None:
        """A trial stopped after `reached` epochs (1..52)."""
        self.spent += max(time[:reached])  # the surrogate's times are cumulative, up to noise
        if reached == EPOCHS and self.spent <= self.budget:
            self.best = max(self.best, acc[-1])


def run_hyperion(method: str, task: str, seed: int, budget: float) -> float:
    from hyperion import Study

    ledger = Ledger(budget)
    kwargs: dict[str, Any] = {"max_resource": EPOCHS}
    if method == "hyperion auto, no stopping":
        study = Study(
            hyperion_space("lcbench"), strategy="auto", metric="acc", mode="max", seed=seed, max_trials=10_000
        )
    else:
        policy, strategy = method.split()[1], method.split("+ ")[1]
        strategy, _, given = strategy.partition(":")  # "bayesian:bandwidth=2" passes strategy_kwargs
        strategy_kwargs = {k: float(v) for k, v in (pair.split("=") for pair in given.split(",") if pair)}
        study = Study(
            hyperion_space("lcbench"),
            strategy=strategy,
            strategy_kwargs=strategy_kwargs or None,
            metric="acc",
            mode="max",
            seed=seed,
            early_stopping=policy,
            early_stopping_kwargs=kwargs if policy in ("asha", "hyperband") else None,  # median: its defaults
            max_trials=10_000,
        )
    with study:
        while ledger.open:
            trial = study.ask()
            acc, time = curve(task, trial.params)
            reached = EPOCHS
            for epoch in range(EPOCHS):
                trial.report(epoch, acc=acc[epoch])
                if epoch < EPOCHS - 1 and trial.should_stop():
                    reached = epoch + 1
                    break
            ledger.charge(acc, time, reached)
            study.tell(trial, {"acc": acc[reached - 1]})
    return ledger.best


def run_optuna(method: str, task: str, seed: int, budget: float) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS)
        if "hyperband" in method
        else optuna.pruners.SuccessiveHalvingPruner()
    )
    sampler = (
        optuna.samplers.RandomSampler(seed=seed)
        if method.endswith("+ random")
        else optuna.samplers.TPESampler(seed=seed)
    )
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    ledger = Ledger(budget)
    while ledger.open:
        trial = study.ask()
        acc, time = curve(task, optuna_flat(trial, "lcbench"))
        reached = EPOCHS
        for epoch in range(EPOCHS):
            trial.report(acc[epoch], epoch)
            if epoch < EPOCHS - 1 and trial.should_prune():
                reached = epoch + 1
                break
        ledger.charge(acc, time, reached)
        if reached < EPOCHS:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, acc[-1])
    return ledger.best


def _job(args: tuple[str, str, int, float]) -> tuple[str, str, int, float]:
    method, task, seed, budget = args
    logging.getLogger("hyperion").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    random.seed(seed)
    run = run_hyperion if method.startswith("hyperion") else run_optuna
    return method, task, seed, run(method, task, seed, budget)


def fidelity_main(args: Any) -> None:
    # the listed methods, and any "hyperion <policy> + <strategy>[:name=value,...]"
    methods = [m for m in args.methods if m in FIDELITY_METHODS or (m.startswith("hyperion ") and " + " in m)]
    methods = methods or FIDELITY_METHODS
    task_list = CHECK_TASKS if args.check else DEV_TASKS
    budgets = {task: args.budget * full_time(task) for task in task_list}
    jobs = [(m, t, s, budgets[t]) for t in task_list for s in range(args.seeds) for m in methods]
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for method, task, seed, best in pool.imap_unordered(_job, jobs):
            results[method][task].append(best)
            print(f"fidelity {task} seed {seed} {method}: {best:.3f}", flush=True)
    means = {t: {m: statistics.mean(results[m][t]) for m in methods} for t in task_list}
    task_ranks = {t: ranks(means[t]) for t in task_list}
    print(
        f"\nbest final validation accuracy % within {args.budget:g} full runs' training time (mean over seeds; rank)\n"
    )
    print("| task | " + " | ".join(methods) + " |")
    print("|---|" + "---:|" * len(methods))
    for t in task_list:
        print(f"| {t} | " + " | ".join(f"{means[t][m]:.2f} ({task_ranks[t][m]:g})" for m in methods) + " |")
    mean_ranks = {m: statistics.mean(task_ranks[t][m] for t in task_list) for m in methods}
    print("| **mean rank** | " + " | ".join(f"**{mean_ranks[m]:.2f}**" for m in methods) + " |\n")
    for m in methods:
        first = sum(task_ranks[t][m] == min(task_ranks[t].values()) for t in task_list)
        print(f"{m}: best (or tied) on {first} of {len(task_list)} tasks")
    if all(r in methods for r in REFERENCES):
        for m in [m for m in methods if m.startswith("hyperion") and m not in REFERENCES]:
            ahead = sum(means[t][m] >= max(means[t][r] for r in REFERENCES) for t in task_list)
            print(f"{m}: at or above {', '.join(REFERENCES)} on {ahead} of {len(task_list)} tasks")
