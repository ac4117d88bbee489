"""gp's wall time on a 10-d sphere: run it on a busy machine (the BLAS limit matters there), once as it is
and once with OPENBLAS_NUM_THREADS=1 (the two should match), each in a fresh process.

    python benchmarks/gp_threads.py [--trials 80]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CODE = """
import sys, time
from hyperion import Float, tune
space = {f"x{i}": Float(-5, 5) for i in range(10)}
start = time.perf_counter()
tune(lambda ctx, **p: sum(v * v for v in p.values()), space, strategy="gp", max_trials=int(sys.argv[1]), seed=0, mode="min")
print(f"{time.perf_counter() - start:.1f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=80)
    args = parser.parse_args()
    for label, extra in (("as installed", {}), ("OPENBLAS_NUM_THREADS=1", {"OPENBLAS_NUM_THREADS": "1"})):
        out = subprocess.run(
            [sys.executable, "-c", CODE, str(args.trials)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **extra},
        )
        print(f"gp, {args.trials} trials at d=10, {label}: {out.stdout.strip()} s")


if __name__ == "__main__":
    main()
