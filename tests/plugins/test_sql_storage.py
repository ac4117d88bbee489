"""What only the SQL storage does: crash safety, parallel processes, ownership, schema versions,
SQLite settings, and the `hyperion studies` CLI over it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hyperion import Float, StorageError, tune
from hyperion_core.goal import Goal
from hyperion_storage.sql import SQLStorage

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, cwd: Path, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


CRASHING_STUDY = """
    import os, signal, sqlite3, time
    from hyperion import tune, Float, Int, ObjectiveResult

    def objective(ctx, x, n):
        ctx.report(step=0, x=x)
        if ctx.number == 7 and os.environ.get("CRASH"):
            deadline = time.monotonic() + 30  # wait (bounded) until this trial's start is stored, then die
            while time.monotonic() < deadline:
                with sqlite3.connect("crash.db") as con:
                    if con.execute("SELECT 1 FROM hyperion_trials WHERE number = 7").fetchone():
                        break
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)  # the whole tune() process dies mid-study
        time.sleep(0.01)
        return ObjectiveResult(score=x * n)

    r = tune(objective, {"x": Float(0, 1), "n": Int(1, 3)}, storage="sqlite:///crash.db", study_name="crashy",
             max_trials=20, max_concurrent=3, seed=5)
    print(r["study"]["trials"], r["study"]["resumed"], r["study"]["completed"])
"""


def test_a_killed_study_loses_no_completed_trial_and_resumes_to_max_trials(tmp_path):
    crashed = _python(CRASHING_STUDY, tmp_path, {"CRASH": "1"})
    assert crashed.returncode == -9, crashed.stderr
    con = sqlite3.connect(tmp_path / "crash.db")
    before = dict(con.execute("SELECT number, state FROM hyperion_trials").fetchall())
    completed_before = {
        n: v for n, v in con.execute("SELECT number, value FROM hyperion_trials WHERE state='completed'")
    }
    params_left = dict(con.execute("SELECT number, params FROM hyperion_trials WHERE state='running'").fetchall())
    con.close()
    assert len(completed_before) >= 5 and 7 in params_left  # trial 7 was running when the process died

    resumed = _python(CRASHING_STUDY, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    trials, loaded, completed = map(int, resumed.stdout.split())
    assert trials == completed == 20 and loaded == len(before) - len(params_left)
    con = sqlite3.connect(tmp_path / "crash.db")
    after = {n: (s, v, p) for n, s, v, p in con.execute("SELECT number, state, value, params FROM hyperion_trials")}
    assert sorted(after) == list(range(20))
    for number, value in completed_before.items():
        assert after[number][:2] == ("completed", value)  # nothing acknowledged was lost
    for number, params in params_left.items():
        assert after[number][0] == "completed" and json.loads(after[number][2]) == json.loads(params)  # re-run


PARALLEL_STUDY = """
    import sys
    from hyperion import tune, Float, Int
    def objective(ctx, x, n):
        for step in range(3):
            ctx.report(step=step, loss=x / (step + 1))
        return x + n
    r = tune(objective, {"x": Float(0, 1), "n": Int(1, 9)}, storage="sqlite:///shared.db", study_name=sys.argv[1],
             max_trials=300, max_concurrent=2, seed=int(sys.argv[2]))
    print(r["study"]["completed"])
"""


def test_parallel_processes_share_one_sqlite_file_without_locking_errors(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(PARALLEL_STUDY))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), f"worker-{i}", str(i)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0 and "locked" not in err, err
        assert out.strip() == "300", (out, err)
    con = sqlite3.connect(tmp_path / "shared.db")
    assert con.execute("SELECT count(*) FROM hyperion_trials WHERE state='completed'").fetchone()[0] == 1200
    assert con.execute("SELECT count(*) FROM hyperion_reports").fetchone()[0] == 3600


def test_a_study_open_in_a_live_process_is_refused_with_how_to_proceed(tmp_path):
    url = f"sqlite:///{tmp_path / 'owned.db'}"
    holder = SQLStorage(url)
    holder.open_study("busy", {}, Goal.of("score"))
    with pytest.raises(
        StorageError, match="study 'busy' is open in another tune\\(\\).*max_concurrent.*own study_name"
    ):
        tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="busy", max_trials=1)
    holder.close()  # released: now it opens
    assert tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="busy2", max_trials=1)["best"]


def test_a_file_from_a_newer_schema_is_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'future.db'}"
    SQLStorage(url).close()
    con = sqlite3.connect(tmp_path / "future.db")
    con.execute("UPDATE hyperion_meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="newer Hyperion \\(schema version 99.*pip install -U hyperion-tune"):
        SQLStorage(url)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    storage = SQLStorage(f"sqlite:///{tmp_path / 'wal.db'}")
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    storage.close()


def test_bad_urls_and_missing_drivers_say_what_to_do(tmp_path):
    with pytest.raises(StorageError, match="cannot open storage"):
        SQLStorage(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with pytest.raises(StorageError, match="not valid"):
        SQLStorage(f"sqlite+nosuchdriver:///{tmp_path / 'x.db'}")


def _cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hyperion", "studies", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_studies_cli_list_show_export_delete(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="alpha", max_trials=8, seed=1)
    tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="beta", max_trials=3, mode="min")

    listing = _cli("list", "--storage", url, "--json", cwd=tmp_path)
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    assert rows["alpha"]["completed"] == 8 and rows["alpha"]["best"] == result["best"]["value"]
    assert (rows["beta"]["metrics"], rows["beta"]["modes"]) == (["score"], ["min"])
    assert "alpha" in _cli("list", "--storage", url, cwd=tmp_path).stdout

    show = _cli("show", "alpha", "--storage", url, "--top", "3", cwd=tmp_path)
    assert f"best score = {result['best']['value']:.6g} at {result['best']['trial_id']}" in show.stdout
    assert "top 3 trials" in show.stdout

    csv_text = _cli("export", "alpha", "--storage", url, cwd=tmp_path).stdout.splitlines()
    assert csv_text[0].startswith("trial_id,number,state,value") and "params.x" in csv_text[0]
    assert len(csv_text) == 9
    out = tmp_path / "alpha.json"
    _cli("export", "alpha", "--storage", url, "--format", "json", "-o", str(out), cwd=tmp_path)
    assert [t["trial_id"] for t in json.loads(out.read_text())] == [f"trial_{i:04d}" for i in range(8)]

    refused = _cli("delete", "beta", "--storage", url, cwd=tmp_path, stdin="n\n")
    assert refused.returncode == 1 and "not deleted" in refused.stderr
    deleted = _cli("delete", "beta", "--storage", url, "--yes", cwd=tmp_path)
    assert deleted.returncode == 0 and "deleted study 'beta' (3 trials)" in deleted.stderr
    assert [r["name"] for r in json.loads(_cli("list", "--storage", url, "--json", cwd=tmp_path).stdout)] == ["alpha"]

    missing = _cli("show", "nope", "--storage", url, cwd=tmp_path)
    assert missing.returncode == 1 and "no study named 'nope'" in missing.stderr and "alpha" in missing.stderr
    no_file = _cli("list", "--storage", f"sqlite:///{tmp_path / 'absent.db'}", cwd=tmp_path)
    assert no_file.returncode == 1 and "no database at" in no_file.stderr


def test_user_text_reaches_the_terminal_inert_and_spreadsheets_unevaluated(tmp_path):
    import io

    from rich.console import Console

    from hyperion import Choice
    from hyperion_reporters.progress import ProgressReporter

    url = f"sqlite:///{tmp_path / 'evil.db'}"
    title = "\x1b]0;pwned\x07"  # would set the terminal's title
    name = f"red{title}\x1b[31m"
    console = Console(file=io.StringIO(), force_terminal=True, width=300)
    space = {"op": Choice(["=1+2", "@SUM(A1)", "-1", f"x{title}"])}
    tune(
        lambda ctx, op: 1.0,
        space,
        storage=url,
        study_name=name,
        max_trials=12,
        seed=0,
        strategy="grid",
        reporters=[ProgressReporter(console=console)],
    )
    assert "\x1b]0;" not in console.file.getvalue() and "\\x1b]0;pwned" in console.file.getvalue()
    for args in (("list",), ("show", name)):
        shown = _cli(*args, "--storage", url, cwd=tmp_path)
        assert shown.returncode == 0 and "\x1b" not in shown.stdout and "red\\x1b]0;pwned\\x07\\x1b[31m" in shown.stdout
    rows = _cli("export", name, "--storage", url, cwd=tmp_path).stdout.splitlines()
    assert {"'=1+2", "'@SUM(A1)", "'-1"} <= {c.strip('"') for row in rows[1:] for c in row.split(",")}
    assert not any(c.startswith(("=", "@")) for row in rows[1:] for c in row.split(","))


def test_viewing_never_changes_a_database_and_a_foreign_one_is_refused(tmp_path):
    import hashlib
    import sqlite3

    def fingerprint(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}

    mine = tmp_path / "mine"
    mine.mkdir()
    url = f"sqlite:///{mine / 'hpo.db'}"
    tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="alpha", max_trials=3)
    with sqlite3.connect(mine / "hpo.db") as conn:  # as a copy or a backup leaves it: no WAL, no -shm
        conn.execute("PRAGMA journal_mode=DELETE")
    before = fingerprint(mine)
    for args in (("list",), ("show", "alpha"), ("export", "alpha")):
        assert _cli(*args, "--storage", url, cwd=tmp_path).returncode == 0
    from hyperion.cli import main

    assert main(["studies", "list", "--storage", url, "--json"]) == 0
    assert fingerprint(mine) == before  # not a byte, not a new -wal or -shm file

    foreign = tmp_path / "other"
    foreign.mkdir()
    with sqlite3.connect(foreign / "app.db") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    before = fingerprint(foreign)
    refused = _cli("list", "--storage", f"sqlite:///{foreign / 'app.db'}", cwd=tmp_path)
    assert refused.returncode == 1 and "is not a Hyperion storage" in refused.stderr
    assert fingerprint(foreign) == before


def test_a_hand_damaged_row_is_a_clear_error_in_every_command(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'damaged.db'}"
    tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="d", max_trials=4)
    with sqlite3.connect(tmp_path / "damaged.db") as conn:
        conn.execute("UPDATE hyperion_trials SET value = 'abc' WHERE number = 2")
    for args in (("show", "d"), ("export", "d")):
        shown = _cli(*args, "--storage", url, cwd=tmp_path)
        assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
        assert "the stored data is damaged (ValueError: the value of trial 2 is 'abc', not a number)" in shown.stderr
