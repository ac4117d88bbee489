"""Checkpoints, pause/resume ASHA and population-based training on a small numpy network.

    python examples/checkpoints/train_resume.py                 # pbt, 8 members
    python examples/checkpoints/train_resume.py --policy asha   # promotion-based ASHA (resume=True)
    (Ctrl-C or kill it and run it again: the interrupted trials continue from their checkpoints)

The objective saves its whole training state (weights, velocity, epoch) with ctx.save_checkpoint after
every epoch and loads it with ctx.load_checkpoint, so a trial continues wherever it is run again: after
a crash and a resume (same study file), when ASHA promotes it, or as PBT's copy of a better member.
"""

from __future__ import annotations

import argparse

import numpy as np

from hyperion import Float, ObjectiveResult, tune

EPOCHS = 20


def data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 2, (4, 10))
    labels = rng.integers(0, 4, 4000)
    x = centers[labels] + rng.normal(0, 2.5, (4000, 10))
    return x[:3000], labels[:3000], x[3000:], labels[3000:]


def train(ctx, lr, momentum):
    xt, yt, xv, yv = data()
    state = ctx.load_checkpoint() or {"w": np.zeros((10, 4)), "v": np.zeros((10, 4)), "epoch": -1}
    w, v = state["w"], state["v"]
    for epoch in range(state["epoch"] + 1, EPOCHS):
        for start in range(0, len(xt), 100):  # one epoch of minibatch SGD with momentum
            xb, yb = xt[start : start + 100], yt[start : start + 100]
            z = xb @ w
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            v = momentum * v - lr * xb.T @ p / len(yb)
            w = w + v
        accuracy = float(((xv @ w).argmax(1) == yv).mean())
        ctx.report(epoch, accuracy=accuracy)
        ctx.save_checkpoint({"w": w, "v": v, "epoch": epoch})
        if ctx.should_stop():  # paused (ASHA, PBT) or stopped: return now, the checkpoint is saved
            break
    return ObjectiveResult(metrics={"accuracy": accuracy})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", choices=["pbt", "asha"], default="pbt")
    parser.add_argument("--storage", default="sqlite:///checkpoints-example.db")
    parser.add_argument("--members", type=int, default=8)
    args = parser.parse_args()
    space = {"lr": Float(1e-4, 1.0, log=True), "momentum": Float(0.0, 0.95)}
    common = dict(metric="accuracy", max_concurrent=2, storage=args.storage, seed=0, show_summary=True)
    if args.policy == "pbt":
        options = {"population_size": args.members, "perturbation_interval": 4}
        result = tune(train, space, strategy="pbt", strategy_kwargs=options, study_name="pbt", **common)
    else:
        stopping = {"max_resource": EPOCHS, "resume": True}
        result = tune(
            train,
            space,
            max_trials=args.members * 3,
            early_stopping="asha",
            early_stopping_kwargs=stopping,
            study_name="asha",
            **common,
        )
    best = result["best"]
    print(f"best accuracy {best['value']:.4f} with {best['params']} ({result['study']['trials']} trials)")


if __name__ == "__main__":
    main()
