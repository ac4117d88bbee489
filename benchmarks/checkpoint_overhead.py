"""What a checkpoint costs: `ctx.save_checkpoint(state)` on the local directory store inside a running
study (SQLite storage: the checkpoint is recorded at once) against a bare save of the same state into a
fresh directory (pickle.dump, and torch.save when torch is installed), side by side in one run.

The state is a model-like dict of float32 arrays (1, 16 and 128 MB) plus an epoch counter. Each size is
saved `repeats` times in each way; the table gives the median seconds per save and the ratio.

    python benchmarks/checkpoint_overhead.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hyperion import Float, ObjectiveResult, tune

SIZES_MB = (1, 16, 128)


def state_of(megabytes: int) -> dict:
    rng = np.random.default_rng(0)
    per = megabytes * 2**20 // 4 // 4  # four float32 tensors
    return {"model": {f"layer{i}.weight": rng.standard_normal(per, dtype=np.float32) for i in range(4)}, "epoch": 3}


def bare(state: dict, root: Path, repeats: int, save) -> list[float]:
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        folder = root / f"bare_{i}"
        folder.mkdir()
        save(state, folder / "state.pt")
        times.append(time.perf_counter() - start)
    return times


def in_study(state: dict, root: Path, repeats: int, concurrency: int) -> list[float]:
    times: list[float] = []

    def objective(ctx, x):
        for step in range(repeats):
            ctx.report(step, loss=x)
            start = time.perf_counter()
            ctx.save_checkpoint(state)
            times.append(time.perf_counter() - start)
        return ObjectiveResult(metrics={"loss": x})

    tune(
        objective,
        {"x": Float(0, 1)},
        metric="loss",
        mode="min",
        max_trials=1,
        max_concurrent=concurrency,
        storage=f"sqlite:///{root / f'study{concurrency}.db'}",
        checkpoints=str(root / f"ck{concurrency}"),
        keep_checkpoints=repeats,  # nothing deleted while we time
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None

    def pickle_save(state, path):
        with open(path, "wb") as f:
            pickle.dump(state, f, protocol=5)

    print(
        "| state | bare pickle.dump s | torch.save s | ctx.save_checkpoint s (one slot: on the loop's thread) | (two slots) | ratio to pickle.dump |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for mb in SIZES_MB:
        state = state_of(mb)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "p").mkdir()
            base = statistics.median(bare(state, root / "p", args.repeats, pickle_save))
            t_torch = "-"
            if torch is not None:
                tstate = {"model": {k: torch.from_numpy(v) for k, v in state["model"].items()}, "epoch": 3}
                (root / "t").mkdir()
                t_torch = f"{statistics.median(bare(tstate, root / 't', args.repeats, torch.save)):.4f}"
            one = statistics.median(in_study(state, root, args.repeats, 1))
            two = statistics.median(in_study(state, root, args.repeats, 2))
        print(
            f"| {mb} MB | {base:.4f} | {t_torch} | {one:.4f} | {two:.4f} | {one / base:.2f} / {two / base:.2f} |",
            flush=True,
        )
    print(f"\n(os: {os.uname().sysname}, temporary directory {tempfile.gettempdir()})")


if __name__ == "__main__":
    main()
