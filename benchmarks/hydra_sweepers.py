"""The Hydra sweepers side by side on one app whose trials sleep for uneven times (a stand-in for GPU
jobs of different lengths: the n-th trial to start sleeps the n-th length of one fixed list, 1 to 4 s): Hyperion's (asynchronous slots) against hydra-optuna-sweeper with the joblib
launcher (batches of n_jobs), the same slots and trials. Needs a venv with hydra-core,
hydra-optuna-sweeper and hydra-joblib-launcher (they pin optuna 2.10, so not the bench venv):

    python benchmarks/hydra_sweepers.py [--trials 24] [--slots 4]

Prints the wall time, trials per minute and the share of slot time spent idle for each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

APP = """\
import fcntl, json, os, time
import hydra

def next_length(folder):
    # the n-th trial to start sleeps the n-th length of one fixed list (1 to 4 s), whichever sweeper runs it
    with open(os.path.join(folder, "counter"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = len(f.read())
        f.write(".")
    return 1.0 + 3.0 * ((n * 7) % 24) / 23

@hydra.main(version_base=None, config_path="conf", config_name="config")
def train(cfg):
    folder = os.environ.get("TIMES_DIR", ".")
    start = time.time()
    time.sleep(next_length(folder))
    with open(os.path.join(folder, f"{os.getpid()}-{start}.json"), "w") as f:
        json.dump({"start": start, "end": time.time()}, f)
    return (cfg.x - 0.3) ** 2 + cfg.y

if __name__ == "__main__":
    train()
"""

COMMON = "x: 0.5\ny: 0.5\n"

HYPERION = """\
defaults:
  - override hydra/sweeper: hyperion
  - _self_
{common}
hydra:
  sweeper:
    strategy: random
    max_trials: {trials}
    max_concurrent: {slots}
    seed: 0
    mode: min
    params:
      x: {{float: [0, 1]}}
      y: {{float: [0, 1]}}
"""

OPTUNA = """\
defaults:
  - override hydra/sweeper: optuna
  - override hydra/launcher: joblib
  - _self_
{common}
hydra:
  launcher:
    n_jobs: {slots}
  sweeper:
    sampler:
      seed: 0
    direction: minimize
    n_trials: {trials}
    n_jobs: {slots}
    params:
      x: interval(0, 1)
      y: interval(0, 1)
"""


def run(kind: str, template: str, trials: int, slots: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"sweep-{kind}-"))
    (folder / "conf").mkdir()
    (folder / "app.py").write_text(APP)
    (folder / "conf" / "config.yaml").write_text(template.format(common=COMMON, trials=trials, slots=slots))
    times = folder / "times"
    times.mkdir()
    env = {**os.environ, "TIMES_DIR": str(times), "PYTHONPATH": str(ROOT / "plugins")}
    start = time.time()
    subprocess.run(
        [sys.executable, "app.py", "--multirun", f"hydra.sweep.dir={folder / 'sweep'}"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    wall = time.time() - start
    busy = sum(d["end"] - d["start"] for d in (json.loads(p.read_text()) for p in times.glob("*.json")))
    return {"wall_s": wall, "per_min": trials / wall * 60, "idle": 1 - busy / (wall * slots)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--slots", type=int, default=4)
    args = parser.parse_args()
    rows = {
        "hyperion": run("hyperion", HYPERION, args.trials, args.slots),
        "optuna": run("optuna", OPTUNA, args.trials, args.slots),
    }
    for name, row in rows.items():
        print(f"{name:9} wall {row['wall_s']:6.1f} s  {row['per_min']:5.1f} trials/min  slots idle {row['idle']:.0%}")
    print(f"hyperion / optuna trials per minute: {rows['hyperion']['per_min'] / rows['optuna']['per_min']:.2f}")


if __name__ == "__main__":
    main()
