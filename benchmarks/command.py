"""A program as the objective: the per-trial cost of hyperion.Command (a directory, the environment, the
line protocol, the log files, the loop) against a bare subprocess.run of the same program, side by side.

    python benchmarks/command.py [--trials 100]

Prints the mean milliseconds per trial of each and the difference (target: within 20 ms).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hyperion import Command, Float, tune

PROGRAM = "import sys; print('hyperion.report {\"step\": 0, \"loss\": 1.0}'); print('hyperion.result', sys.argv[1])"


def bare(trials: int) -> float:
    start = time.perf_counter()
    for i in range(trials):
        subprocess.run([sys.executable, "-c", PROGRAM, str(i / trials)], capture_output=True, check=True)
    return (time.perf_counter() - start) / trials * 1e3


def hyperion(trials: int, folder: Path) -> float:
    command = Command([sys.executable, "-c", PROGRAM, "{x}"], workdir=folder / "runs", base_dir=folder)
    start = time.perf_counter()
    result = tune(command, {"x": Float(0, 1)}, max_trials=trials, seed=0)
    assert result["study"]["completed"] == trials
    return (time.perf_counter() - start) / trials * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    rows = []
    for _ in range(args.repeat):  # alternated, so a busy machine slows both alike
        rows.append((bare(args.trials), hyperion(args.trials, folder)))
    b = sorted(r[0] for r in rows)[len(rows) // 2]
    h = sorted(r[1] for r in rows)[len(rows) // 2]
    print(
        f"bare subprocess.run: {b:.1f} ms/trial; hyperion.Command in tune(): {h:.1f} ms/trial; overhead {h - b:+.1f} ms"
    )


if __name__ == "__main__":
    main()
