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
    /tmp/yahpovenv/bin/python benchmarks/stopping_lcbench.py [--seeds 3] [--configs 60] [--sweep] [--check]

--sweep: instead, `median` (warmup_steps x min_trials, and keep x patience: `percentile` is keep=0.2,
patience=2) against MedianPruner and `asha` (min_resource x reduction_factor) against
SuccessiveHalvingPruner, the shipped defaults among them.
--check: the 24 LCBench tasks never used to choose anything (benchmarks/lcbench.py's CHECK_TASKS).
--cv: instead, a 5-fold CV task (GradientBoosting on scikit-learn's breast-cancer data, 40 configurations
per seed), each trial reporting its fold accuracies; its result is their mean.
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


def hyperion_arm(
    policy: str | None, kwargs: dict, table: list[list[float]], finals: list[float] | None = None
) -> tuple[float, int]:
    """Each trial reports its row of `table` step by step; its result is its last report, or `finals[i]`
    (a CV score: the mean of its folds) when it ran to the end."""
    spent = [0]
    full: list[float] = []

    def train(ctx, i):
        steps = len(table[i])
        for step in range(steps):
            spent[0] += 1
            ctx.report(step, acc=table[i][step])
            if step < steps - 1 and ctx.should_stop():
                return ObjectiveResult(metrics={"acc": table[i][step]})
        final = table[i][-1] if finals is None else finals[i]
        full.append(final)
        return ObjectiveResult(metrics={"acc": final})

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


def optuna_arm(pruner_name: str, table: list[list[float]], finals: list[float] | None = None) -> tuple[float, int]:
    import optuna

    pruner = optuna.pruners.MedianPruner() if pruner_name == "median" else optuna.pruners.SuccessiveHalvingPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for i in range(len(table)):
        study.enqueue_trial({"i": i})
    spent = [0]
    full: list[float] = []

    def objective(trial):
        i = trial.suggest_int("i", 0, len(table) - 1)
        steps = len(table[i])
        for step in range(steps):
            spent[0] += 1
            trial.report(table[i][step], step)
            if step < steps - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        final = table[i][-1] if finals is None else finals[i]
        full.append(final)
        return final

    study.optimize(objective, n_trials=len(table))
    return max(full), spent[0]


def cv_tables(seed: int, configs: int = 40) -> tuple[list[list[float]], list[float]]:
    """GradientBoosting on scikit-learn's breast-cancer data, 5-fold CV: per configuration (drawn with
    the seed) its accuracy on each fold (what a trial reports, fold by fold) and their mean (its result)."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    x, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(seed)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y))
    table, finals = [], []
    for _ in range(configs):
        model = GradientBoostingClassifier(
            n_estimators=int(rng.integers(10, 200)),
            learning_rate=float(10 ** rng.uniform(-3, 0)),
            max_depth=int(rng.integers(1, 7)),
            subsample=float(rng.uniform(0.3, 1.0)),
            random_state=seed,
        )
        scores = [100 * model.fit(x[train], y[train]).score(x[test], y[test]) for train, test in folds]
        table.append(scores)
        finals.append(float(np.mean(scores)))
    return table, finals


ARMS = {
    "no early stopping": ("hyperion", None, {}),
    "hyperion median": ("hyperion", "median", {}),
    "hyperion percentile": ("hyperion", "percentile", {}),
    "hyperion asha": ("hyperion", "asha", {"max_resource": EPOCHS}),
    "optuna MedianPruner": ("optuna", "median", {}),
    "optuna SuccessiveHalvingPruner": ("optuna", "sha", {}),
}
RIVAL = {
    "hyperion median": "optuna MedianPruner",
    "hyperion percentile": "optuna MedianPruner",
    "hyperion asha": "optuna SuccessiveHalvingPruner",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--configs", type=int, default=60)
    parser.add_argument("--sweep", action="store_true", help="the policies' arguments varied (see the docstring)")
    parser.add_argument("--check", action="store_true", help="the 24 unseen tasks instead of the ten")
    parser.add_argument("--cv", action="store_true", help="the 5-fold CV task instead (GradientBoosting)")
    args = parser.parse_args()
    logging.getLogger("hyperion").setLevel(logging.ERROR)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if args.cv:
        cv_main(args.seeds)
        return
    tasks = TASKS
    if args.check:
        from lcbench import CHECK_TASKS

        tasks = CHECK_TASKS
    if args.sweep:
        sweep(tasks, args.seeds, args.configs)
        return
    rows: dict[str, dict[str, list[tuple[float, int]]]] = {arm: {} for arm in ARMS}
    for task in tasks:
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
    everything = [e for task in tasks for _, e in rows["no early stopping"][task]]
    for arm in ARMS:
        best = statistics.median(b for task in tasks for b, _ in rows[arm][task])
        epochs = statistics.median(e for task in tasks for _, e in rows[arm][task])
        wins = "-"
        if arm in RIVAL:
            rival = RIVAL[arm]
            count = sum(as_good(rows[arm][task], rows[rival][task]) for task in tasks)
            wins = f"{count} of {len(tasks)}"
        print(f"| {arm} | {best:.2f} | {epochs:,.0f} | {epochs / statistics.median(everything):.0%} | {wins} |")
    print("\nper task, mean best / mean epochs over the seeds; as good = the same or a better best at no more epochs\n")
    print("| task | " + " | ".join(f"{arm} | {rival} | as good" for arm, rival in RIVAL.items()) + " |")
    print("|---|" + "---:|---:|---:|" * len(RIVAL))
    for task in tasks:
        cells = []
        for arm, rival in RIVAL.items():
            for a in (arm, rival):
                cells.append(
                    f"{statistics.fmean(b for b, _ in rows[a][task]):.2f} / {statistics.fmean(e for _, e in rows[a][task]):.0f}"
                )
            cells.append("yes" if as_good(rows[arm][task], rows[rival][task]) else "no")
        print(f"| {task} | " + " | ".join(cells) + " |")


def as_good(mine: list[tuple[float, int]], theirs: list[tuple[float, int]]) -> bool:
    """Over a task's seeds: a mean best at least the rival's, with no more mean epochs."""
    good = statistics.fmean(b for b, _ in mine) >= statistics.fmean(b for b, _ in theirs) - 1e-9
    return good and statistics.fmean(e for _, e in mine) <= statistics.fmean(e for _, e in theirs)


def cv_main(seeds: int) -> None:
    """Per seed: 40 configurations, each trial reporting its 5 fold accuracies; every arm's best mean CV
    accuracy (of a trial that ran all folds) and folds trained."""
    rows: dict[str, list[tuple[float, int]]] = {arm: [] for arm in ARMS}
    kwargs = {"hyperion asha": {"max_resource": 5}}
    for seed in range(seeds):
        table, finals = cv_tables(seed)
        for arm, (lib, policy, default) in ARMS.items():
            got = (
                optuna_arm(policy, table, finals)
                if lib == "optuna"
                else hyperion_arm(policy, kwargs.get(arm, default), table, finals)
            )
            rows[arm].append(got)
        print(seed, {arm: f"{b:.2f}/{e}" for arm, got in rows.items() for b, e in got[-1:]}, flush=True)
    print("\n| arm | best mean CV accuracy % (mean over seeds) | folds trained (mean) |")
    print("|---|---:|---:|")
    for arm in ARMS:
        best = statistics.fmean(b for b, _ in rows[arm])
        folds = statistics.fmean(e for _, e in rows[arm])
        print(f"| {arm} | {best:.2f} | {folds:.0f} |")
    for arm, rival in RIVAL.items():
        verdict = "as good at no more folds" if as_good(rows[arm], rows[rival]) else "not as good at no more folds"
        print(f"{arm} against {rival}: {verdict}")


def sweep(tasks: list[str], seeds: int, configs: int) -> None:
    """Each policy with its arguments varied, against its Optuna rival, on the same tables."""
    tables = {(t, seed): curves(t, seed, configs) for t in tasks for seed in range(seeds)}
    grids = {
        "median": [{"warmup_steps": w, "min_trials": m} for w in (0, 1, 2) for m in (2, 3, 4, 5)]
        + [{"keep": k, "patience": p} for k in (0.5, 0.3, 0.25, 0.2, 0.15) for p in (2, 3)],
        "asha": [
            {"max_resource": EPOCHS, "min_resource": r, "reduction_factor": f} for r in (1, 2, 3) for f in (2, 3, 4)
        ],
    }
    print(
        "| policy | arguments | tasks as good at no more epochs | mean best | rival's | epochs, share of the rival's |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for policy, grid in grids.items():
        kind = "median" if policy == "median" else "sha"
        rival = {key: optuna_arm(kind, table) for key, table in tables.items()}
        for kwargs in grid:
            got = {key: hyperion_arm(policy, kwargs, table) for key, table in tables.items()}
            count = sum(
                as_good([got[(t, i)] for i in range(seeds)], [rival[(t, i)] for i in range(seeds)]) for t in tasks
            )
            best, theirs = (statistics.fmean(b for b, _ in arm.values()) for arm in (got, rival))
            share = sum(e for _, e in got.values()) / sum(e for _, e in rival.values())
            shown = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "max_resource")
            print(
                f"| {policy} | {shown} | {count} of {len(tasks)} | {best:.2f} | {theirs:.2f} | {share:.0%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
