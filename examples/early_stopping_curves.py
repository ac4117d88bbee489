"""Early stopping on learning curves: `median`, `percentile` and `asha` side by side.

Each trial "trains" for 30 epochs on a synthetic learning curve (no framework needed): its final
accuracy depends on two hyperparameters, and the best settings start slowly, as large models often
do. Every policy sees the same 40 configurations (random proposals) in the same order, for 5 seeds,
so the table shows what each one keeps and what it spends:

    python examples/early_stopping_curves.py

`median` stops a trial the first time it is below the median at some epoch; `percentile` forgives
one bad epoch but keeps only the top fifth; `asha` halves at epochs 1, 3, 9, 27. See
docs/early-stopping.md for how their defaults were chosen on real learning curves.
"""

from __future__ import annotations

import math
import random

from hyperion import Float, tune

EPOCHS = 30
TRIALS = 40


def accuracy(lr: float, width: float, epoch: int) -> float:
    """The validation accuracy after `epoch` + 1 epochs: wide models end best but start slowly."""
    final = 0.95 - 0.8 * (math.log10(lr) + 2.5) ** 2 / 6.25 - 0.15 * (width - 0.8) ** 2
    pace = 1.5 + 8.0 * width  # epochs to reach about two thirds of the final accuracy
    noise = random.Random(f"{lr:.12g}/{width:.12g}/{epoch}").gauss(0.0, 0.01)
    return final * (1.0 - math.exp(-(epoch + 1) / pace)) + noise


def run(policy: str | None, seed: int) -> dict:
    spent = [0]

    def train(ctx, lr, width):
        for epoch in range(EPOCHS):
            spent[0] += 1
            ctx.report(step=epoch, val_accuracy=accuracy(lr, width, epoch))
            if ctx.should_stop():
                break
        return accuracy(lr, width, epoch)

    result = tune(
        train,
        {"lr": Float(1e-4, 1e-1, log=True), "width": Float(0.0, 1.0)},
        strategy="random",  # the same proposals for every policy
        metric="val_accuracy",
        mode="max",
        max_trials=TRIALS,
        early_stopping=policy,
        seed=seed,
    )
    return {"best": result["best"]["value"], "epochs": spent[0], "stopped": result["study"]["killed"]}


def main(seeds: int = 5) -> None:
    print(f"mean over {seeds} seeds of {TRIALS} trials")
    print(f"{'policy':<12} {'best val accuracy':>18} {'epochs trained':>15} {'trials stopped':>15}")
    for policy in (None, "median", "percentile", "asha"):
        rows = [run(policy, seed) for seed in range(seeds)]
        best, epochs, stopped = (sum(r[k] for r in rows) / seeds for k in ("best", "epochs", "stopped"))
        print(f"{policy or 'none':<12} {best:>18.4f} {epochs:>15.0f} {stopped:>15.1f}")


if __name__ == "__main__":
    main()
