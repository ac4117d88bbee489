"""What one `gp` proposal costs: CPU milliseconds per proposal on a d-dimensional sphere, mean over the
run and near its end, for a few seeds (search issue, item 3: <= 25 ms at d=10 with 200 trials).

    python benchmarks/gp_cost.py [--dims 10] [--trials 200] [--seeds 3]

To compare with an older tree, run this file with that tree's plugins first on the path:
    PYTHONPATH=/path/to/old/plugins python benchmarks/gp_cost.py
"""

from __future__ import annotations

import argparse
import statistics
import time

from hyperion import Float, tune
from hyperion_strategies.gp import GPSearch


def cost(dims: int, trials: int, seed: int) -> list[float]:
    """CPU seconds of each proposal of one run."""
    spent: list[float] = []
    propose = GPSearch.propose

    def timed(self, study, slots):
        began = time.process_time()
        out = propose(self, study, slots)
        spent.append(time.process_time() - began)
        return out

    GPSearch.propose = timed
    try:
        tune(
            lambda ctx, **x: sum((v - 0.3) ** 2 for v in x.values()),
            {f"x{i}": Float(-1.0, 1.0) for i in range(dims)},
            strategy="gp",
            mode="min",
            max_trials=trials,
            seed=seed,
        )
    finally:
        GPSearch.propose = propose
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dims", type=int, default=10)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    cost(2, 30, 0)  # imports and the first fits out of the way
    runs = [cost(args.dims, args.trials, seed) for seed in range(args.seeds)]
    mean = statistics.median(1000 * statistics.fmean(r) for r in runs)
    late = statistics.median(1000 * statistics.fmean(r[-20:]) for r in runs)
    print(f"gp, d={args.dims}, {args.trials} trials, {args.seeds} seeds (median of runs):")
    print(f"  {mean:.1f} ms CPU per proposal over the run, {late:.1f} ms over its last 20")


if __name__ == "__main__":
    main()
