"""join=True: several tune() processes working one study on SQLite and PostgreSQL, one of them
SIGKILLed mid-run and restarted; the study's numbers are exact."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hyperion import ConfigurationError, Float, StorageError, tune
from hyperion_core.goal import Goal
from hyperion_core.models import Changes, Report, Trial, TrialState
from hyperion_storage._schema import SCHEMA_VERSION
from hyperion_storage.sql import SQLStorage

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
    import os, signal, sys, time
    from hyperion import tune, Float, Int, ObjectiveResult

    storage, logs, victim = sys.argv[1], sys.argv[2], sys.argv[3] == "victim"
    done = 0

    def lines(name):
        path = os.path.join(logs, name)
        return open(path).read().split() if os.path.exists(path) else []

    def wait_for(ready):  # bounded: a test never hangs on it
        deadline = time.monotonic() + 120
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.02)

    def objective(ctx, x, n):
        global done
        with open(os.path.join(logs, "started"), "a") as f:
            f.write(f"{ctx.number} {os.getpid()}\\n")
        if victim:
            # Dies in the middle of its first trial, once another process works the study too.
            open(os.path.join(logs, "victim_started"), "a").close()
            wait_for(lambda: any(pid != str(os.getpid()) for pid in lines("started")[1::2]))
            os.kill(os.getpid(), signal.SIGKILL)
        elif done == 0:  # the others leave trials for the victim to die in
            wait_for(lambda: os.path.exists(os.path.join(logs, "victim_started")))
        time.sleep(0.03)
        ctx.report(step=0, loss=x)
        with open(os.path.join(logs, "finished"), "a") as f:
            f.write(f"{ctx.number} {os.getpid()}\\n")
        done += 1
        return ObjectiveResult(score=x * n)

    r = tune(objective, {"x": Float(0, 1), "n": Int(1, 3)}, storage=storage, study_name="shared", join=True,
             max_trials=60, max_concurrent=2, strategy="bayesian", seed=os.getpid())
    print(r["study"]["trials"])
"""


def _spawn(tmp_path: Path, storage: str, role: str) -> subprocess.Popen[str]:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    return subprocess.Popen(
        [sys.executable, str(script), storage, str(tmp_path), role],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_four_with_a_crash(tmp_path: Path, storage: str) -> None:
    procs = [_spawn(tmp_path, storage, "victim")] + [_spawn(tmp_path, storage, "worker") for _ in range(3)]
    victim_out = procs[0].communicate(timeout=240)
    assert procs[0].returncode == -9, victim_out  # SIGKILL
    procs.append(_spawn(tmp_path, storage, "worker"))  # restarted, as a job array would
    for proc in procs[1:]:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
    reader = SQLStorage(storage)
    trials = reader.load_trials("shared")
    reader.close()
    assert [t.number for t in trials] == list(range(60))  # unique and contiguous: the budget is study-wide
    assert all(t.state is TrialState.COMPLETED for t in trials)
    started = [line.split() for line in (tmp_path / "started").read_text().split("\n") if line]
    finished = [line.split() for line in (tmp_path / "finished").read_text().split("\n") if line]
    victim = str(procs[0].pid)
    victims = {int(number) for number, pid in started if pid == victim}
    assert {int(n) for n, _ in finished} == set(range(60))  # none lost
    # Run twice only when interrupted: the killed process's trials, whose ends it never wrote.
    again = {int(n) for n, _ in started if sum(1 for m, _ in started if m == n) > 1}
    assert 1 <= len(again) and again <= victims
    others = [int(n) for n, pid in finished if pid != victim]
    assert len(others) == len(set(others))  # no trial finished twice among the live processes


def test_four_processes_share_a_sqlite_study_through_a_crash(tmp_path):
    _run_four_with_a_crash(tmp_path, f"sqlite:///{tmp_path / 'shared.db'}")


def test_four_processes_share_a_postgresql_study_through_a_crash(tmp_path, postgres_url):
    storage = SQLStorage(postgres_url)  # a clean slate on the shared test server
    try:
        storage.delete_study("shared", force=True)
    except StorageError:
        pass
    storage.close()
    _run_four_with_a_crash(tmp_path, postgres_url)


def test_without_join_a_second_process_is_refused_with_how_to_join(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    holder = SQLStorage(url)
    holder.open_study("s", {}, Goal.of("score"))
    with pytest.raises(StorageError, match="join=True"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="s", max_trials=1)
    with pytest.raises(StorageError, match="opened without join=True"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="s", max_trials=1, join=True)
    holder.close()
    with pytest.raises(ConfigurationError, match="join=True .* storage they share"):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, max_trials=1, join=True)


def test_joined_runs_see_each_others_trials_and_reports(tmp_path):
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    a, b = SQLStorage(url), SQLStorage(url)
    a.join_study("s", {}, Goal.of("score"))
    b.join_study("s", {}, Goal.of("score"))
    claim = a.claim("s", [Trial(number=-1, params={"x": 0.5}), Trial(number=-1, params={"x": 0.7})], 2, 3)
    assert claim.numbers == [0, 1]
    done = Trial(number=0, params={"x": 0.5}, state=TrialState.COMPLETED, value=0.5, score=0.5)
    a.write("s", Changes(trials=[done], reports=[Report(0, 0, {"loss": 0.5})]))
    seen = b.sync("s")
    assert {t.number: t.state for t in seen.foreign} == {0: TrialState.COMPLETED, 1: TrialState.RUNNING}
    assert [(r.trial_number, r.metrics) for r in seen.reports] == [(0, {"loss": 0.5})]
    assert b.sync("s").foreign == []  # nothing new since the last look
    assert b.claim("s", [Trial(number=-1, params={"x": 0.1})] * 2, 2, 3).numbers == [2]  # budget: 3 in all
    a.close()
    b.close()


def test_a_file_of_the_first_schema_is_migrated(tmp_path):
    import sqlite3

    path = tmp_path / "v1.db"
    con = sqlite3.connect(path)
    con.executescript(V1_SCHEMA)
    con.execute("INSERT INTO hyperion_meta VALUES ('schema_version', '1')")
    con.execute(
        "INSERT INTO hyperion_studies (name, space, metric, mode, created, updated) VALUES "
        '(\'old\', \'{"x": {"type": "Float", "low": 0, "high": 1, "log": false}}\', \'score\', \'max\', 0, 0)'
    )
    con.execute(
        "INSERT INTO hyperion_trials (study_id, number, trial_id, state, params, value, score, metrics, artifacts, "
        "depth, started) VALUES (1, 0, 'trial_0000', 'completed', '{\"x\": 0.5}', 0.5, 0.5, '{}', '{}', 0, 0)"
    )
    con.commit()
    con.close()
    result = tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=f"sqlite:///{path}", study_name="old", max_trials=3)
    assert result["study"]["resumed"] == 1 and result["study"]["trials"] == 3
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM hyperion_meta").fetchone()[0] == str(SCHEMA_VERSION)
    assert con.execute("SELECT COUNT(*) FROM hyperion_checkpoints").fetchone()[0] == 0  # the table is there
    assert con.execute("SELECT next_number FROM hyperion_studies").fetchone()[0] == 3
    assert con.execute("SELECT metric, mode FROM hyperion_studies").fetchone() == ('["score"]', '["max"]')


V1_SCHEMA = """
CREATE TABLE hyperion_meta (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE hyperion_studies (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(255) NOT NULL UNIQUE,
  space TEXT NOT NULL, metric VARCHAR(255) NOT NULL, mode VARCHAR(3) NOT NULL, created FLOAT NOT NULL,
  updated FLOAT NOT NULL, owner VARCHAR(255), heartbeat FLOAT);
CREATE TABLE hyperion_trials (study_id INTEGER NOT NULL REFERENCES hyperion_studies (id) ON DELETE CASCADE,
  number INTEGER NOT NULL, trial_id VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL, params TEXT NOT NULL,
  value FLOAT, score FLOAT, metrics TEXT NOT NULL, artifacts TEXT NOT NULL, parent_id VARCHAR(64),
  depth INTEGER NOT NULL, rationale TEXT, error TEXT, kill_reason TEXT, last_step INTEGER, started FLOAT NOT NULL,
  finished FLOAT, PRIMARY KEY (study_id, number));
CREATE TABLE hyperion_reports (id INTEGER PRIMARY KEY AUTOINCREMENT, study_id INTEGER NOT NULL REFERENCES
  hyperion_studies (id) ON DELETE CASCADE, trial_number INTEGER NOT NULL, step INTEGER NOT NULL,
  metrics TEXT NOT NULL, time FLOAT NOT NULL);
CREATE INDEX ix_hyperion_reports_trial ON hyperion_reports (study_id, trial_number);
CREATE TABLE hyperion_events (id INTEGER PRIMARY KEY AUTOINCREMENT, study_id INTEGER NOT NULL REFERENCES
  hyperion_studies (id) ON DELETE CASCADE, trial_number INTEGER, kind VARCHAR(64) NOT NULL, data TEXT NOT NULL,
  time FLOAT NOT NULL);
CREATE INDEX ix_hyperion_events_study ON hyperion_events (study_id);
"""


def test_each_joined_result_describes_the_whole_study_and_a_joiner_does_not_say_resumed(tmp_path):
    url = f"sqlite:///{tmp_path / 'whole.db'}"
    space = {"x": Float(0, 1)}
    inner: dict = {}

    def first(ctx, x):
        if ctx.number == 2:  # a second worker joins while this one is mid-trial, and finishes first
            inner["result"] = tune(lambda ctx, x: x, space, storage=url, study_name="w", join=True, max_trials=8)
        return x

    outer = tune(first, space, storage=url, study_name="w", join=True, max_trials=8)
    joiner = inner["result"]
    assert joiner["study"]["joined"] and any(n.startswith("joined study 'w'") for n in joiner["study"]["notes"])
    assert not any("resumed" in n for n in joiner["study"]["notes"]) and joiner["study"]["resumed"] == 2
    assert joiner["study"]["completed"] == 7  # everything but the trial the first worker was still running
    assert outer["study"]["completed"] == 8 and outer["study"]["trials"] == 8  # the whole study, as stored


def test_joined_workers_run_each_initial_point_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'init.db'}"
    space = {"x": Float(0, 1)}
    points = [{"x": 0.1}, {"x": 0.2}, {"x": 0.3}]
    runs: list[float] = []

    def second(ctx, x):
        runs.append(x)
        return x

    def first(ctx, x):
        runs.append(x)
        if ctx.number == 0:  # a second worker with the same initial points starts while the first runs one
            tune(second, space, storage=url, study_name="i", join=True, max_trials=5, initial_points=points)
        return x

    tune(first, space, storage=url, study_name="i", join=True, max_trials=8, initial_points=points)
    assert sorted(x for x in runs if x in (0.1, 0.2, 0.3)) == [0.1, 0.2, 0.3]  # each initial point once
    assert len(runs) == 8
