"""A/B of two Hyperion installs in the same minutes: the loop's overhead (instant objective, in memory,
one slot inline and four on the pool) and the storage's cost (instant trials on SQLite), each run in a
fresh process of each interpreter in turn, A B A B ..., so a busy machine slows both alike.

    python benchmarks/ab.py --a /path/to/old-venv/bin/python --b .venv/bin/python [--rounds 5]

Prints the median trials/s of each case for A and B and the ratio B/A (above 1: B is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CASE = r"""
import json, logging, sys, tempfile, time
from pathlib import Path
from hyperion import Choice, Float, Int, tune
logging.disable(logging.WARNING)
SPACE = {"lr": Float(1e-5, 1.0, log=True), "dropout": Float(0.0, 0.5), "layers": Int(1, 8),
         "optimizer": Choice(["sgd", "adam", "rmsprop"])}
def objective(ctx, lr, dropout, layers, optimizer):
    return lr + dropout + layers
case, trials = sys.argv[1], int(sys.argv[2])
options = {"max_trials": trials, "seed": 0, "strategy": "random"}
if case == "memory-1":
    pass
elif case == "memory-4":
    options.update(max_concurrent=4, max_time_s=3600)
elif case == "sqlite":
    options["storage"] = "sqlite:///" + str(Path(tempfile.mkdtemp()) / "ab.db")
start = time.perf_counter()
tune(objective, SPACE, **options)
print(json.dumps(trials / (time.perf_counter() - start)))
"""

CASES = {"memory-1": 5000, "memory-4": 5000, "sqlite": 1000}


def measure(python: str, case: str) -> float:
    out = subprocess.run([python, "-c", CASE, case, str(CASES[case])], capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="the baseline's python")
    parser.add_argument("--b", default=sys.executable, help="the candidate's python (default: this one)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {case: {"a": [], "b": []} for case in CASES}
    for _ in range(args.rounds):
        for case in CASES:
            for side in ("a", "b"):
                results[case][side].append(measure(getattr(args, side), case))
    print(f"{'case':10} {'A trials/s':>12} {'B trials/s':>12} {'B/A':>6}")
    for case, sides in results.items():
        a, b = statistics.median(sides["a"]), statistics.median(sides["b"])
        print(f"{case:10} {a:12,.0f} {b:12,.0f} {b / a:6.2f}")


if __name__ == "__main__":
    main()
