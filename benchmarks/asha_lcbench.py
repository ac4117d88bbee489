"""Promotion-based ASHA with checkpoints against its stop-and-restart version and stop-based ASHA, on
real learning curves: the LCBench surrogate of YAHPO Gym (../shared/bench/yahpo, fidelity `epoch`
1..52), the ten development tasks, 3 seeds.

Each arm runs the same 81 configurations (sampled from LCBench's space with the seed) in the same
order, one at a time, with rungs at epochs 1, 3, 9, 27 (reduction_factor 3) and 52 epochs at most.
- `asha`: stop-based (a trial outside the top third at a rung is stopped for good).
- `asha resume=True`: promotion-based; a paused trial continues from its checkpoint when promoted.
- `asha resume=True, restart`: the same decisions, but a promoted trial trains again from epoch 1
  (what promotion costs without checkpoints).
Reported per arm: the best final (epoch 52) validation accuracy reached, the epochs trained in all, and
the epochs trained until that best trial completed; medians over tasks and seeds.

Needs numpy<2 for yahpo-gym's ConfigSpace: run it in its own environment
    python3 -m venv /tmp/yahpovenv && /tmp/yahpovenv/bin/pip install yahpo-gym onnxruntime -e .
    /tmp/yahpovenv/bin/python benchmarks/asha_lcbench.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
from pathlib import Path

from hyperion import Int, ObjectiveResult, tune

TASKS = ["3945", "7593", "34539", "126025", "126026", "126029", "146212", "167104", "167149", "167152"]
DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "yahpo"
CONFIGS, EPOCHS = 81, 52


def curves(task: str, seed: int, configs: int = CONFIGS) -> list[list[float]]:
    """The validation accuracy (%) of each of `configs` sampled configurations at epochs 1..52."""
    from yahpo_gym import benchmark_set, local_config

    local_config.init_config()
    local_config.set_data_path(str(DATA))
    bench = benchmark_set.BenchmarkSet("lcbench")
    bench.set_instance(task)
    space = bench.get_opt_space(drop_fidelity_params=True, seed=seed)
    out = []
    for config in space.sample_configuration(configs):
        values = config.get_dictionary()
        rows = bench.objective_function([{**values, "epoch": e} for e in range(1, EPOCHS + 1)])
        out.append([float(r["val_accuracy"]) for r in rows])
    return out


def run(arm: str, table: list[list[float]]) -> tuple[float, int, int]:
    spent: list[int] = []  # the trial number of each epoch trained, in order
    finished: dict[int, int] = {}  # trial -> epochs spent when it completed

    def train(ctx, i):
        restart = arm.endswith("restart")
        state = (None if restart else ctx.load_checkpoint()) or {"epoch": -1}
        for epoch in range(state["epoch"] + 1, EPOCHS):
            state["epoch"] = epoch
            spent.append(ctx.number)
            ctx.report(epoch, acc=table[i][epoch])
            ctx.save_checkpoint(state)
            if ctx.should_stop():
                break
        if state["epoch"] == EPOCHS - 1:
            finished[ctx.number] = len(spent)
        return ObjectiveResult(metrics={"acc": table[i][state["epoch"]]})

    kwargs = {"reduction_factor": 3, "max_resource": EPOCHS, **({"resume": True} if arm != "asha" else {})}
    result = tune(
        train,
        {"i": Int(0, CONFIGS - 1)},
        metric="acc",
        max_trials=CONFIGS,
        initial_points=[{"i": i} for i in range(CONFIGS)],
        early_stopping="asha",
        early_stopping_kwargs=kwargs,
    )
    done = [t for t in result["trials"] if t["state"] == "completed" and t["number"] in finished]
    best = max(done, key=lambda t: t["metrics"]["acc"])
    return best["metrics"]["acc"], len(spent), finished[best["number"]]


def main() -> None:
    logging.getLogger("hyperion").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    arms = ["asha", "asha resume=True", "asha resume=True, restart"]
    rows: dict[str, list[tuple[float, int, int]]] = {arm: [] for arm in arms}
    for task in TASKS:
        for seed in range(args.seeds):
            table = curves(task, seed)
            line = [f"{task:>6} seed {seed}"]
            for arm in arms:
                got = run(arm, table)
                rows[arm].append(got)
                line.append(f"{arm}: {got[0]:.2f}% {got[1]} epochs (best at {got[2]})")
            print(" | ".join(line), flush=True)
    base = rows["asha resume=True, restart"]
    print()
    print(
        "| arm | best final val acc % (median) | epochs in all (median) | epochs until the best (median) | epochs vs restart (median ratio) |"
    )
    print("|---|---:|---:|---:|---:|")
    for arm, got in rows.items():
        ratio = statistics.median(g[1] / b[1] for g, b in zip(got, base))
        print(
            f"| {arm} | {statistics.median(g[0] for g in got):.2f} | {statistics.median(g[1] for g in got):,.0f} | "
            f"{statistics.median(g[2] for g in got):,.0f} | {ratio:.2f} |"
        )
    same = sum(g[0] == b[0] for g, b in zip(rows["asha resume=True"], base))
    print(f"\nresume and restart found the same best on {same} of {len(base)} runs")


if __name__ == "__main__":
    main()
