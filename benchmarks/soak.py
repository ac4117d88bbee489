"""The reliability soak (not CI): for an hour, four join=True workers on PostgreSQL and four on SQLite,
SIGKILLed at random and restarted, a frozen PostgreSQL for a minute, a full SQLite disk for a minute,
`hyperion ask`/`tell` shells and a dashboard being read throughout. At the end it checks that every
acknowledged result is stored once with its value, numbering is contiguous, no study passed max_trials,
and the dashboard's memory did not grow; it prints the figures as JSON.

    python benchmarks/soak.py [--minutes 60] [--workers 4] [--round 300]

As root on Linux: the SQLite file lives on a small tmpfs (mounted here) so the disk can be filled; the
PostgreSQL server is a throw-away one (tests/postgres.py; needs Debian's postgresql binaries). Work is
in rounds: each round is a study of `--round` trials; the next starts when every worker of a storage has
finished one (which checks max_trials over and over).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORKER = """
    import os, random, sys, time
    from hyperion import tune, Float, Int, ObjectiveResult, Reporter

    storage, study, acks, max_trials = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

    class Acks(Reporter):  # a reporter sees a trial's end only once the storage wrote it: acknowledged
        def on_event(self, event, state):
            if event.kind == "trial_completed":
                trial = state.trials[event.trial_number]
                with open(acks, "a") as f:
                    f.write(f"{study} {trial.number} {trial.value!r}\\n")
                    f.flush()
                    os.fsync(f.fileno())

    def objective(ctx, x, n):
        for step in range(3):
            time.sleep(random.uniform(0.02, 0.1))
            ctx.report(step=step, loss=x * n + step)
        return ObjectiveResult(score=x * n)

    tune(objective, {"x": Float(0, 1), "n": Int(1, 5)}, storage=storage, study_name=study, join=True,
         max_trials=max_trials, max_concurrent=2, strategy="random", reporters=[Acks()])
"""


class Storage:
    """One storage's workers, its rounds and what was acknowledged in it."""

    def __init__(self, label: str, url: str, workdir: Path, workers: int, per_round: int) -> None:
        self.label, self.url, self.workers, self.per_round = label, url, workers, per_round
        self.script = workdir / "worker.py"
        self.acks = workdir / f"acks-{label}.txt"
        self.round = 0
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.finished: set[int] = set()  # workers that ended the current round normally
        self.dead_at: dict[int, float] = {}  # slot -> when its worker died (restarted 2 s later, not in a spin)
        self.kills = self.restarts = self.failures = 0

    @property
    def study(self) -> str:
        return f"soak-{self.round}"

    def spawn(self, slot: int) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
        args = [sys.executable, str(self.script), self.url, self.study, str(self.acks), str(self.per_round)]
        self.procs[slot] = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def tend(self) -> None:
        """Restart dead workers; start the next round when every worker finished this one."""
        for slot, proc in enumerate(self.procs):
            if proc is None or proc.poll() is None:
                continue
            if proc.returncode == 0:
                self.finished.add(slot)
                self.procs[slot] = None
            else:  # killed, or ended by the storage (frozen, full): a job array would start it again
                died = self.dead_at.setdefault(slot, time.monotonic())
                if time.monotonic() - died < 2:
                    continue
                del self.dead_at[slot]
                self.failures += proc.returncode != -signal.SIGKILL
                self.restarts += 1
                self.spawn(slot)
        if len(self.finished) == self.workers:
            self.round += 1
            self.finished.clear()
            for slot in range(self.workers):
                self.spawn(slot)

    def kill_one(self, rng: random.Random) -> None:
        live = [p for p in self.procs if p is not None and p.poll() is None]
        if live:
            rng.choice(live).send_signal(signal.SIGKILL)
            self.kills += 1

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()

    def check(self) -> dict[str, object]:
        from hyperion_storage.sql import SQLStorage

        reader = SQLStorage(self.url)
        problems: list[str] = []
        stored: dict[tuple[str, int], object] = {}
        trials = 0
        try:
            for r in range(self.round + 1):
                study = f"soak-{r}"
                try:
                    rows = reader.load_trials(study)
                except Exception:
                    continue
                numbers = [t.number for t in rows]
                trials += len(rows)
                if numbers != list(range(len(rows))):
                    problems.append(f"{study}: numbers are not contiguous")
                if len(rows) > self.per_round:
                    problems.append(f"{study}: {len(rows)} trials, past max_trials={self.per_round}")
                stored.update({(study, t.number): t for t in rows})
        finally:
            reader.close()
        acked = [line.split() for line in self.acks.read_text().splitlines()] if self.acks.exists() else []
        seen: set[tuple[str, int]] = set()
        for study, number, value in acked:
            key = (study, int(number))
            trial = stored.get(key)
            if trial is None or trial.state.value != "completed" or repr(trial.value) != value:  # type: ignore[attr-defined]
                found = "missing" if trial is None else f"{trial.state.value} with {trial.value!r}"  # type: ignore[attr-defined]
                problems.append(f"acknowledged {study} trial {number} = {value} is stored {found}")
            seen.add(key)
        return {
            "rounds": self.round,
            "trials": trials,
            "acknowledged": len(seen),  # each worker also sees the others' trials end: one ack per trial
            "kills": self.kills,
            "restarts": self.restarts,
            "failures": self.failures,
            "problems": problems[:20],
        }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--round", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--first-freeze-s", type=float, default=300, help="when PostgreSQL first freezes (then every 15 min)"
    )
    parser.add_argument("--first-fill-s", type=float, default=480, help="when the disk first fills (then every 15 min)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="hyperion-soak-"))
    (work / "worker.py").write_text(textwrap.dedent(WORKER))
    disk = work / "disk"
    disk.mkdir()
    mounted = (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True).returncode
        == 0
    )
    from tests.postgres import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    server = PostgresServer(bin_dir).start() if bin_dir else None
    stores = [Storage("sqlite", f"sqlite:///{disk / 'soak.db'}", work, args.workers, args.round)]
    if server is not None:
        stores.append(Storage("postgresql", server.url, work, args.workers, args.round))
    events = {"pg_freezes": 0, "disk_fills": 0, "asks": 0, "tells": 0, "dashboard_reads": 0, "dashboard_errors": 0}
    stop = threading.Event()
    sqlite = stores[0]
    port = 18_000 + rng.randrange(1000)

    def shells() -> None:  # `hyperion ask` / `hyperion tell`, as a shell script on a cluster would
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
        while not stop.wait(5):
            base = [sys.executable, "-m", "hyperion"]
            study = sqlite.study  # once: the round may move on between the ask and the ack
            where = ["--storage", sqlite.url, "--study", study]
            budget = ["--max-trials", str(sqlite.per_round)]  # the shell knows the study's budget, as a job script does
            asked = subprocess.run(
                [*base, "ask", *where, *budget], env=env, capture_output=True, text=True, timeout=120
            )
            if asked.returncode != 0:
                continue
            events["asks"] += 1
            number = json.loads(asked.stdout)["trial"]
            told = subprocess.run(
                [*base, "tell", *where, "--trial", str(number), "--score", "0.5"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if told.returncode == 0 and f"trial {number}: completed" in told.stderr:
                events["tells"] += 1
                with open(sqlite.acks, "a") as f:  # a told result is acknowledged too
                    f.write(f"{study} {number} 0.5\n")

    def reader() -> None:
        while not stop.wait(3):
            for path in ("/api/studies", f"/api/studies/{sqlite.study}", "/"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
                        answer.read()
                    events["dashboard_reads"] += 1
                except Exception:
                    events["dashboard_errors"] += 1  # a study not yet created, a full disk: counted, not fatal

    threads = [threading.Thread(target=f, daemon=True) for f in (shells, reader)]
    for store in stores:
        for slot in range(store.workers):
            store.spawn(slot)
    deadline = time.monotonic() + 120
    while not (disk / "soak.db").exists() and time.monotonic() < deadline:  # a viewer never creates a file
        time.sleep(0.2)
    time.sleep(2)
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "hyperion", "dashboard", "--storage", sqlite.url, "--port", str(port)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for thread in threads:
        thread.start()
    began = time.monotonic()
    end = began + args.minutes * 60
    next_kill = began + rng.uniform(10, 30)
    next_freeze = began + args.first_freeze_s
    next_fill = began + args.first_fill_s
    rss_start: float | None = None
    while time.monotonic() < end:
        now = time.monotonic()
        for store in stores:
            store.tend()
        if rss_start is None and now - began > 120 and dashboard.poll() is None:
            rss_start = rss_mb(dashboard.pid)
        if now >= next_kill:
            rng.choice(stores).kill_one(rng)
            next_kill = now + rng.uniform(10, 30)
        if server is not None and now >= next_freeze:
            main_pid = (server.dir / "data" / "postmaster.pid").read_text().split()[0]
            children = subprocess.run(["pgrep", "-P", main_pid], capture_output=True, text=True).stdout.split()
            pids = [main_pid, *children]
            for pid in pids:
                os.kill(int(pid), signal.SIGSTOP)
            time.sleep(60)
            for pid in pids:
                os.kill(int(pid), signal.SIGCONT)
            events["pg_freezes"] += 1
            next_freeze = time.monotonic() + 900
        if mounted and now >= next_fill:
            filler = disk / "filler"
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * (1 << 20))
                        f.flush()
                except OSError:
                    pass
            time.sleep(60)
            filler.unlink()
            events["disk_fills"] += 1
            next_fill = time.monotonic() + 900
        time.sleep(0.5)
    stop.set()
    for store in stores:
        store.stop()
    rss_end = rss_mb(dashboard.pid) if dashboard.poll() is None else None
    dashboard.send_signal(signal.SIGTERM)
    dashboard.wait(timeout=30)
    results = {store.label: store.check() for store in stores}
    report = {
        "minutes": round((time.monotonic() - began) / 60, 1),
        "storages": results,
        "events": events,
        "dashboard_rss_mb": {"at_2_min": rss_start, "at_end": rss_end},
        "disk_filled": mounted,
    }
    print(json.dumps(report, indent=2))
    if server is not None:
        server.stop()
    if mounted:
        subprocess.run(["umount", str(disk)], capture_output=True)
    return 1 if any(r["problems"] for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
