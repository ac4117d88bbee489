"""Scale-out, side by side in one run: Hyperion on Ray against Ray Tune and plain Ray tasks, sleep
trials at 16 concurrent on Ray against the ideal, and join=True workers against one process.

    python benchmarks/scale.py [--part ray|join|quality|all] [--postgres URL]

Needs `pip install -e '.[bench,ray]' 'ray[tune]'`. Ray is started once, locally (num_cpus=2 unless
--cpus), and shared by every Ray figure. The join figures run real `tune(join=True)` processes on a
SQLite file (and on PostgreSQL with --postgres URL, or a throw-away server when initdb is found).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hyperion import Float, ObjectiveResult, tune  # noqa: E402

SPACE = {"x": Float(0, 1)}


def instant(ctx, x):
    return x


def sleepy(ctx, x):
    time.sleep(0.5)
    return ObjectiveResult(score=x, metrics={"pid": os.getpid()})


def ray_part(cpus: int) -> None:
    import ray

    began = time.perf_counter()
    ray.init(
        num_cpus=cpus,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}},
    )
    init_s = time.perf_counter() - began

    @ray.remote(num_cpus=0.25)
    def task(x):
        return x

    ray.get([task.remote(0) for _ in range(50)])  # warm the workers
    began = time.perf_counter()
    ray.get([task.remote(i) for i in range(1000)])
    tasks_per_s = 1000 / (time.perf_counter() - began)
    began = time.perf_counter()
    for i in range(200):
        ray.get(task.remote(i))
    round_trip_ms = (time.perf_counter() - began) / 200 * 1000

    tune(instant, SPACE, executor="ray", resources_per_trial={"cpu": 0.25}, max_trials=20, max_concurrent=4)  # warm
    began = time.perf_counter()
    tune(instant, SPACE, executor="ray", resources_per_trial={"cpu": 0.25}, max_trials=200, max_concurrent=4, seed=0)
    hyperion_per_s = 200 / (time.perf_counter() - began)
    began = time.perf_counter()  # the same with the four worker actors' start-up spread over more trials
    tune(instant, SPACE, executor="ray", resources_per_trial={"cpu": 0.25}, max_trials=1000, max_concurrent=4, seed=0)
    hyperion_1000_per_s = 1000 / (time.perf_counter() - began)

    from ray import tune as ray_tune

    def ray_objective(config):
        return {"score": config["x"]}

    began = time.perf_counter()
    tuner = ray_tune.Tuner(
        ray_tune.with_resources(ray_objective, {"cpu": 0.25}),
        param_space={"x": ray_tune.uniform(0, 1)},
        tune_config=ray_tune.TuneConfig(num_samples=200, max_concurrent_trials=4, metric="score", mode="max"),
        run_config=ray_tune.RunConfig(storage_path=tempfile.mkdtemp(prefix="raytune-"), verbose=0),
    )
    tuner.fit()
    ray_tune_per_s = 200 / (time.perf_counter() - began)

    began = time.perf_counter()
    sleeps = tune(sleepy, SPACE, executor="ray", resources_per_trial={"cpu": 0.1}, max_trials=320, max_concurrent=16)
    sleep_s = time.perf_counter() - began
    ideal = 320 / 16 * 0.5
    # Steady state: trials that started once every worker process was up (each had begun its first trial)
    # and ended before the last one began to drain, against 16 trials per 0.5 s.
    first: dict[int, float] = {}
    for t in sorted(sleeps["trials"], key=lambda t: t["started"]):
        first.setdefault(t["metrics"]["pid"], t["finished"])
    up, last_start = max(first.values()), max(t["started"] for t in sleeps["trials"])
    inside = [t for t in sleeps["trials"] if t["started"] >= up and t["finished"] <= last_start]
    steady = len(inside) / ((last_start - up) / 0.5 * 16) if last_start > up else float("nan")

    print(f"\n## Ray (local, num_cpus={cpus}); ray.init {init_s:.1f} s\n")
    print("| what | figure |")
    print("|---|---:|")
    print(f"| plain Ray tasks, 1000 at once | {tasks_per_s:,.0f} tasks/s |")
    print(f"| plain Ray task, sequential round trip | {round_trip_ms:.1f} ms |")
    print(f"| Ray Tune `Tuner`, instant objective, 200 trials, 4 concurrent | {ray_tune_per_s:.1f} trials/s |")
    print(f"| Hyperion `executor='ray'`, same | {hyperion_per_s:.0f} trials/s |")
    print(f"| ratio Hyperion / Ray Tune | {hyperion_per_s / ray_tune_per_s:.0f}x |")
    print(f"| Hyperion `executor='ray'`, 1000 trials | {hyperion_1000_per_s:.0f} trials/s |")
    print(f"| Hyperion, 320 `sleep(0.5)` trials at 16 concurrent, wall | {sleep_s:.2f} s (ideal {ideal:.1f} s) |")
    print(f"| same, steady state (all 16 workers up) | {steady:.0%} of the ideal throughput |")
    ray.shutdown()


WORKER = """
    import sys, time
    from hyperion import tune, Float
    def objective(ctx, x):
        time.sleep(0.2)
        return x
    tune(objective, {"x": Float(0, 1)}, storage=sys.argv[1], study_name=sys.argv[2], join=True,
         max_trials=int(sys.argv[3]), seed=int(sys.argv[4]))
"""


def _workers(url: str, name: str, processes: int, trials: int) -> float:
    script = Path(tempfile.mkdtemp()) / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    began = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, str(script), url, name, str(trials), str(i)], env=env)
        for i in range(processes)
    ]
    for proc in procs:
        proc.wait(timeout=600)
    return trials / (time.perf_counter() - began)


def join_part(postgres: str | None) -> None:
    urls = {"SQLite": f"sqlite:///{tempfile.mkdtemp()}/join.db"}
    server = None
    if postgres:
        urls["PostgreSQL"] = postgres
    else:
        from tests.postgres import PostgresServer, find_bin_dir

        if find_bin_dir() is not None:
            server = PostgresServer(find_bin_dir()).start()
            urls["PostgreSQL"] = server.url
    print("\n## join=True: `sleep(0.2)` trials, one trial at a time per process\n")
    print("| storage | 1 process trials/s | 4 processes trials/s | speed-up |")
    print("|---|---:|---:|---:|")
    try:
        for label, url in urls.items():
            one = _workers(url, f"one-{time.time_ns()}", 1, 40)
            four = _workers(url, f"four-{time.time_ns()}", 4, 160)
            print(f"| {label} | {one:.2f} | {four:.2f} | {four / one:.2f}x |")
    finally:
        if server is not None:
            server.stop()


QUALITY_WORKER = """
    import sys
    sys.path.insert(0, sys.argv[4])
    from benchmarks.functions import PROBLEMS
    from hyperion import tune
    space, f, _ = PROBLEMS["branin"]
    tune(lambda ctx, **p: f(**p), space, strategy="bayesian", storage=sys.argv[1], study_name=sys.argv[2],
         join=True, max_trials=100, mode="min", seed=int(sys.argv[3]))
"""


def quality_part(seeds: int) -> None:
    from benchmarks.functions import PROBLEMS
    from hyperion_storage.sql import SQLStorage

    space, f, _ = PROBLEMS["branin"]
    one, joined = [], []
    for seed in range(seeds):
        r = tune(
            lambda ctx, **p: f(**p), space, strategy="bayesian", max_trials=100, max_concurrent=4, mode="min", seed=seed
        )
        one.append(r["best"]["value"])
        url = f"sqlite:///{tempfile.mkdtemp()}/q.db"
        script = Path(tempfile.mkdtemp()) / "q.py"
        script.write_text(textwrap.dedent(QUALITY_WORKER))
        procs = [
            subprocess.Popen([sys.executable, str(script), url, "q", str(seed * 10 + i), str(ROOT)]) for i in range(4)
        ]
        for proc in procs:
            proc.wait(timeout=600)
        storage = SQLStorage(url)
        joined.append(min(t.value for t in storage.load_trials("q") if t.value is not None))
        storage.close()
    print(f"\n## bayesian, branin, 100 trials, {seeds} seeds: median best\n")
    print("| one process, max_concurrent=4 | 4 joined processes |")
    print("|---:|---:|")
    print(f"| {statistics.median(one):.4f} | {statistics.median(joined):.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", default="all", choices=("ray", "join", "quality", "all"))
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    if args.part in ("ray", "all"):
        ray_part(args.cpus)
    if args.part in ("join", "all"):
        join_part(args.postgres)
    if args.part in ("quality", "all"):
        quality_part(args.seeds)


if __name__ == "__main__":
    main()
