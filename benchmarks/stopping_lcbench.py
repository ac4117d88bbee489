"""Early stopping judged by what it keeps, on real learning curves: Hyperion's policies against Optuna's
pruners on the LCBench surrogate of YAHPO Gym (../shared/bench/yahpo, fidelity `epoch` 1..52), the ten
development tasks, 3 seeds (search issue, item 6).

Every arm runs the same 60 configurations (sampled from LCBench's space with the seed) in the same order,
one at a time; a trial reports its validation accuracy every epoch and stops when its policy or pruner
says so. Reported per arm: the best validation accuracy of a trial that trained all 52 epochs, and the
epochs trained in all; per task, whether the arm found the same or a better best than Optuna's pruner of
the same kind with no more epochs.

Needs numpy<2 for yahpo-gym's ConfigSpace (see benchmarks/asha_lcbench.py) and optuna:
    /tmp/yahpovenv/bin/pip install 'optuna>=4,<5'
    /tmp/yahpovenv/bin/python benchmarks/stopping_lcbench.py [--seeds 3] [--configs 60] [--median-sweep]

--median-sweep: instead, `median` with warm-ups 0, 2, 4, 8 and min_trials 3, 5 against MedianPruner.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from asha_lcbench import EPOCHS, TASKS, curves  # noqa: E402  (the same tasks' curves, sampled the same way)

from hyperion import Int, ObjectiveResult, Proposal, Strategy, tune  # noqa: E402


class InOrder(Strategy):
    def __init__(self, count: int) -> None:
        self.count = count

    def propose(self, study, slots):
        start = len(study.trials)
        return [Proposal({"i": i}) for i in range(start, min(start + slots, self.count))]


def hyperion_arm(policy: str | None, kwargs: dict, table: list[list[float]]) -> tuple[float, int]:
    spent = [0]
    full: list[float] = []

    def train(ctx, i):
        for epoch in range(EPOCHS):
            spent[0] += 1
            ctx.report(epoch, acc=table[i][epoch])
            if epoch < EPOCHS - 1 and ctx.should_stop():
                return ObjectiveResult(metrics={"acc": table[i][epoch]})
        full.append(table[i][-1])
        return ObjectiveResult(metrics={"acc": table[i][-1]})

    tune(
        train,
        {"i": Int(0, len(table) - 1)},
        strategy=InOrder(len(table)),
        metric="acc",
        max_trials=len(table),
        early_stopping=policy,
        early_stopping_kwargs=kwargs or None,
    )
    return max(full), spent[0]


def optuna_arm(pruner_name: str, table: list[list[float]]) -> tuple[float, int]:
    import optuna

    pruner = optuna.pruners.MedianPruner() if pruner_name == "median" else optuna.pruners.SuccessiveHalvingPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for i in range(len(table)):
        study.enqueue_trial({"i": i})
    spent = [0]
    full: list[float] = []

    def objective(trial):
        i = trial.suggest_int("i", 0, len(table) - 1)
        for epoch in range(EPOCHS):
            spent[0] += 1
            trial.report(table[i][epoch], epoch)
            if epoch < EPOCHS - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        full.append(table[i][-1])
        return table[i][-1]

    study.optimize(objective, n_trials=len(table))
    return max(full), spent[0]


ARMS = {
    "no early stopping": ("hyperion", None, {}),
    "hyperion median": ("hyperion", "median", {}),
    "hyperion asha": ("hyperion", "asha", {"max_resource": EPOCHS}),
    "optuna MedianPruner": ("optuna", "median", {}),
    "optuna SuccessiveHalvingPruner": ("optuna", "sha", {}),
}
RIVAL = {"hyperion median": "optuna MedianPruner", "hyperion asha": "optuna SuccessiveHalvingPruner"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--configs", type=int, default=60)
    parser.add_argument("--median-sweep", action="store_true")
    args = parser.parse_args()
    logging.getLogger("hyperion").setLevel(logging.ERROR)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if args.median_sweep:
        sweep(args.seeds, args.configs)
        return
    rows: dict[str, dict[str, list[tuple[float, int]]]] = {arm: {} for arm in ARMS}
    for task in TASKS:
        for seed in range(args.seeds):
            table = curves(task, seed, args.configs)
            for arm, (lib, policy, kwargs) in ARMS.items():
                got = optuna_arm(policy, table) if lib == "optuna" else hyperion_arm(policy, kwargs, table)
                rows[arm].setdefault(task, []).append(got)
        print(task, {arm: [f"{b:.2f}/{e}" for b, e in rows[arm][task]] for arm in ARMS}, flush=True)
    print()
    print(
        "| arm | best final val acc % (median) | epochs (median) | share of no stopping | tasks as good as Optuna's pruner at no more epochs |"
    )
    print("|---|---:|---:|---:|---:|")
    everything = [e for task in TASKS for _, e in rows["no early stopping"][task]]
    for arm in ARMS:
        best = statistics.median(b for task in TASKS for b, _ in rows[arm][task])
        epochs = statistics.median(e for task in TASKS for _, e in rows[arm][task])
        wins = "-"
        if arm in RIVAL:
            rival = RIVAL[arm]
            count = sum(as_good(rows[arm][task], rows[rival][task]) for task in TASKS)
            wins = f"{count} of {len(TASKS)}"
        print(f"| {arm} | {best:.2f} | {epochs:,.0f} | {epochs / statistics.median(everything):.0%} | {wins} |")


def as_good(mine: list[tuple[float, int]], theirs: list[tuple[float, int]]) -> bool:
    """Over a task's seeds: a mean best at least the rival's, with no more mean epochs."""
    good = statistics.fmean(b for b, _ in mine) >= statistics.fmean(b for b, _ in theirs) - 1e-9
    return good and statistics.fmean(e for _, e in mine) <= statistics.fmean(e for _, e in theirs)


def sweep(seeds: int, configs: int) -> None:
    tables = {(t, seed): curves(t, seed, configs) for t in TASKS for seed in range(seeds)}
    rival = {key: optuna_arm("median", table) for key, table in tables.items()}
    print("| `warmup_steps` | `min_trials` | best (median) | epochs (median) | tasks as good at no more epochs |")
    print("|---:|---:|---:|---:|---:|")
    for warm in (0, 2, 4, 8):
        for least in (3, 5):
            kwargs = {"warmup_steps": warm, "min_trials": least}
            got = {key: hyperion_arm("median", kwargs, table) for key, table in tables.items()}
            count = sum(
                as_good([got[(t, i)] for i in range(seeds)], [rival[(t, i)] for i in range(seeds)]) for t in TASKS
            )
            best = statistics.median(b for b, _ in got.values())
            epochs = statistics.median(e for _, e in got.values())
            print(f"| {warm} | {least} | {best:.2f} | {epochs:,.0f} | {count} of {len(TASKS)} |", flush=True)


if __name__ == "__main__":
    main()
