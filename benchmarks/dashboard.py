"""Dashboard cost: server time and memory per page for large studies, Hyperion next to optuna-dashboard
on the same study shape (SQLite, same trials, same parameters, the same reports per trial).

    python benchmarks/dashboard.py [--sizes 1000,10000,100000] [--reports 100] [--optuna-max 1000]

Each study has 4 parameters (log-Float, Float, Int, Choice), 85% completed, 10% killed, 5% failed
trials, and `--reports` reports per trial (studies above 10,000 trials get 10, to keep the file
small; the table says). Hyperion's rows are written straight into its schema; Optuna's with
`study.add_trials`, up to `--optuna-max` trials (building larger ones through Optuna takes too long).
Times are the median of 3 requests after one warm-up, in-process (Starlette's test client for
Hyperion, a WSGI call for optuna-dashboard), so they are server time only. Memory is the peak of
Python allocations during the request (tracemalloc).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

STATES = ["completed"] * 17 + ["killed"] * 2 + ["failed"]
OPTIONS = ["sgd", "adam", "rmsprop"]


def point(rng: random.Random) -> dict[str, Any]:
    return {
        "lr": math.exp(rng.uniform(math.log(1e-5), 0)),
        "dropout": rng.uniform(0, 0.5),
        "layers": rng.randint(1, 8),
        "optimizer": rng.choice(OPTIONS),
    }


def loss(p: dict[str, Any], step: int) -> float:
    return abs(math.log10(p["lr"]) + 2) + p["dropout"] + 0.1 * p["layers"] + 1.0 / (step + 1)


def build_hyperion(path: Path, n: int, reports: int) -> str:
    from hyperion import Choice, Float, Int
    from hyperion_core.plugins import registry
    from hyperion_core.space import Space
    from hyperion_storage import _schema as s

    url = f"sqlite:///{path}"
    storage = registry().storage(url)
    space = Space(
        {"lr": Float(1e-5, 1.0, log=True), "dropout": Float(0, 0.5), "layers": Int(1, 8), "optimizer": Choice(OPTIONS)}
    )
    rng = random.Random(0)
    now = time.time()
    with storage.engine.begin() as conn:
        study_id = conn.execute(
            s.studies.insert().values(
                name="big",
                space=json.dumps(space.describe()),
                metric="loss",
                mode="min",
                created=now,
                updated=now,
                next_number=n,
                seq=n,
            )
        ).inserted_primary_key[0]
        trials, rows = [], []
        for i in range(n):
            p = point(rng)
            state = STATES[i % len(STATES)]
            last = reports - 1 if state == "completed" else reports // 3
            steps = 0 if state == "failed" else last + 1
            value = loss(p, last) if state == "completed" else None
            trials.append(
                {
                    "study_id": study_id,
                    "number": i,
                    "trial_id": f"trial_{i:04d}",
                    "state": state,
                    "params": json.dumps(p),
                    "value": value,
                    "score": value,
                    "metrics": json.dumps({"loss": value} if value is not None else {}),
                    "artifacts": "{}",
                    "depth": 0,
                    "error": "ValueError: diverged" if state == "failed" else None,
                    "kill_reason": "median: worse than the median" if state == "killed" else None,
                    "last_step": steps - 1 if steps else None,
                    "started": now + i,
                    "finished": now + i + 0.5,
                    "seq": i,
                }
            )
            rows += [
                {
                    "study_id": study_id,
                    "trial_number": i,
                    "step": k,
                    "metrics": json.dumps({"loss": loss(p, k)}),
                    "time": now + i,
                    "seq": i,
                }
                for k in range(steps)
            ]
            if len(rows) > 200_000:
                conn.execute(s.reports.insert(), rows)
                rows = []
        conn.execute(s.trials.insert(), trials)
        if rows:
            conn.execute(s.reports.insert(), rows)
    storage.close()
    return url


def build_optuna(path: Path, n: int, reports: int) -> str:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{path}"
    study = optuna.create_study(study_name="big", storage=url, direction="minimize")
    dists = {
        "lr": FloatDistribution(1e-5, 1.0, log=True),
        "dropout": FloatDistribution(0, 0.5),
        "layers": IntDistribution(1, 8),
        "optimizer": CategoricalDistribution(OPTIONS),
    }
    rng = random.Random(0)
    batch = []
    for i in range(n):
        p = point(rng)
        state = STATES[i % len(STATES)]
        last = reports - 1 if state == "completed" else reports // 3
        steps = 0 if state == "failed" else last + 1
        kind = {"completed": TrialState.COMPLETE, "killed": TrialState.PRUNED, "failed": TrialState.FAIL}[state]
        batch.append(
            create_trial(
                params=p,
                distributions=dists,
                value=loss(p, last) if state == "completed" else None,
                intermediate_values={k: loss(p, k) for k in range(steps)},
                state=kind,
            )
        )
        if len(batch) == 500:
            study.add_trials(batch)
            batch = []
    if batch:
        study.add_trials(batch)
    return url


def measure(call: Any) -> tuple[float, float, int]:
    call()  # warm-up (caches, imports)
    times, peak, size = [], 0, 0
    for _ in range(3):
        tracemalloc.start()
        t0 = time.perf_counter()
        size = call()
        times.append(time.perf_counter() - t0)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return statistics.median(times), peak / 1e6, size


def hyperion_pages(url: str) -> dict[str, tuple[float, float, int]]:
    from starlette.testclient import TestClient

    from hyperion.dashboard.app import create_app
    from hyperion.dashboard.source import open_storage

    storage = open_storage(url)
    client = TestClient(create_app(storage), base_url="http://127.0.0.1")

    def get(path: str) -> Any:
        def call() -> int:
            r = client.get(path)
            assert r.status_code == 200, (path, r.text[:300])
            return len(r.content)

        return call

    out = {
        "studies list": measure(get("/api/studies")),
        "study page (HTML, all figures)": measure(get("/studies/big")),
        "trial table page (sorted by value)": measure(get("/api/studies/big/trials?sort=value&offset=50")),
        "trial page": measure(get("/studies/big/trials/7")),
    }
    storage.close()
    return out


def optuna_pages(url: str) -> dict[str, tuple[float, float, int]]:
    import optuna
    from optuna_dashboard import wsgi

    app = wsgi(optuna.storages.RDBStorage(url))
    study_id = optuna.storages.RDBStorage(url).get_study_id_from_name("big")

    def get(path: str, query: str = "") -> Any:
        def call() -> int:
            env = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "SERVER_NAME": "x",
                "SERVER_PORT": "80",
                "wsgi.input": io.BytesIO(),
                "wsgi.errors": sys.stderr,
                "wsgi.url_scheme": "http",
                "SERVER_PROTOCOL": "HTTP/1.1",
            }
            status: list[str] = []
            body = b"".join(app(env, lambda s, h, e=None: status.append(s)))
            assert status[0].startswith("200"), (path, status, body[:300])
            return len(body)

        return call

    return {
        "studies list": measure(get("/api/studies")),
        # what its study page loads: every trial with its intermediate values
        "study page (HTML, all figures)": measure(get(f"/api/studies/{study_id}", "after=0")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--reports", type=int, default=100)
    parser.add_argument("--optuna-max", type=int, default=1_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print("| trials x reports | page | Hyperion ms | Hyperion peak MB | optuna-dashboard ms | optuna peak MB | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            reports = args.reports if n <= 10_000 else 10
            t0 = time.perf_counter()
            ours = hyperion_pages(build_hyperion(Path(tmp) / f"h{n}.db", n, reports))
            built = time.perf_counter() - t0
            theirs: dict[str, tuple[float, float, int]] = {}
            if n <= args.optuna_max:
                t0 = time.perf_counter()
                theirs = optuna_pages(build_optuna(Path(tmp) / f"o{n}.db", n, reports))
                print(
                    f"<!-- {n}: Hyperion study built+measured {built:.0f} s; Optuna {time.perf_counter() - t0:.0f} s -->"
                )
            for page, (sec, mb, _) in ours.items():
                other = theirs.get(page)
                ratio = f"{other[0] / sec:.1f}x" if other else "-"
                them = f"{other[0] * 1e3:.0f} | {other[1]:.1f}" if other else "- | -"
                print(f"| {n:,} x {reports} | {page} | {sec * 1e3:.0f} | {mb:.1f} | {them} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
