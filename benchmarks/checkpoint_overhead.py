"""What a checkpoint costs: `ctx.save_checkpoint(state)` on the local directory store against a bare save
of the same state into a fresh directory (pickle.dump, and torch.save when torch is installed), side by
side: the three ways take turns within each repeat, so the page cache and the disk's write-back treat
them alike. Then what the study adds per checkpoint: recording it in a SQLite storage (one write, done
by the loop as soon as it hears of the checkpoint).

The state is a model-like dict of four float32 tensors (1, 16 and 128 MB in all) and an epoch counter.

    python benchmarks/checkpoint_overhead.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hyperion_core.context import TrialContext
from hyperion_core.goal import Goal
from hyperion_core.models import Changes, Checkpoint
from hyperion_core.plugins import registry
from hyperion_core.protocols import TrialSpec

SIZES_MB = (1, 16, 128)


def state_of(megabytes: int, torch: object = None) -> dict:
    rng = np.random.default_rng(0)
    per = megabytes * 2**20 // 4 // 4
    tensors = {f"layer{i}.weight": rng.standard_normal(per, dtype=np.float32) for i in range(4)}
    if torch is not None:
        tensors = {k: torch.from_numpy(v) for k, v in tensors.items()}  # type: ignore[attr-defined]
    return {"model": tensors, "epoch": 3}


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def pickled(state: dict, folder: Path) -> None:
    folder.mkdir()
    with open(folder / "state.pkl", "wb") as f:
        pickle.dump(state, f, protocol=5)


def torch_saved(torch, state: dict, folder: Path) -> None:
    folder.mkdir()
    torch.save(state, folder / "state.pt")


def record_cost(root: Path, repeats: int) -> float:
    """One checkpoint record written to a SQLite storage, as the loop writes it."""
    storage = registry().storage(f"sqlite:///{root / 'record.db'}")
    storage.open_study("s", {"x": {"type": "Float", "low": 0, "high": 1, "log": False}}, Goal.of("loss", "min"))
    times = []
    for i in range(repeats):
        changes = Changes(checkpoints=[Checkpoint(0, i, f"/x/step_{i:06d}", 1)])
        times.append(timed(storage.write, "s", changes))
    storage.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None

    print(
        "| state | pickle.dump s | torch.save s | ctx.save_checkpoint s | ratio to torch.save | ratio to pickle.dump |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for mb in SIZES_MB:
        state = state_of(mb, torch)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            sent: list = []
            ctx = TrialContext(TrialSpec(0, "trial_0000", {}, str(root / "store"), "s/trial_0000"), sent.append, bool)
            bare, tsave, ours = [], [], []
            for i in range(args.repeats):  # the three ways in turn, each into a fresh directory
                bare.append(timed(pickled, state, root / f"bare{i}"))
                if torch is not None:
                    tsave.append(timed(torch_saved, torch, state, root / f"torch{i}"))
                ours.append(timed(ctx.save_checkpoint, state, i))
                for path in (root / f"bare{i}", root / f"torch{i}", Path(sent[-1].location)):
                    shutil.rmtree(path, ignore_errors=True)  # all three alike: nothing piles up in the cache
            assert len(sent) == args.repeats  # every save was announced to the loop
        b, o = statistics.median(bare), statistics.median(ours)
        t = statistics.median(tsave) if tsave else None
        shown = f"{t:.4f}" if t is not None else "-"
        ratio = f"{o / t:.2f}" if t is not None else "-"
        print(f"| {mb} MB | {b:.4f} | {shown} | {o:.4f} | {ratio} | {o / b:.2f} |", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"\nrecording a checkpoint in SQLite: {record_cost(Path(tmp), 50) * 1000:.2f} ms per checkpoint (median)")


if __name__ == "__main__":
    main()
