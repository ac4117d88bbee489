"""The SQL storage under faults: ownership that cannot be stolen from a live run, fenced writes,
bounded waits on a locked or frozen database, no password anywhere, damaged files, CLI edges."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy

from hyperion import Float, StorageError, tune
from hyperion_core.goal import Goal
from hyperion_core.models import Changes, Trial
from hyperion_core.protocols import Reporter
from hyperion_storage import _bounded, _lease, sql
from hyperion_storage.sql import SQLStorage
from tests.cli import hyperion as _cli

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": Float(0, 1)}


def test_the_heartbeat_stays_fresh_while_an_inline_trial_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(_lease, "HEARTBEAT_S", 0.05)
    url = f"sqlite:///{tmp_path / 'beat.db'}"
    ages = []

    def objective(ctx, x):  # max_concurrent=1: this runs on the loop's own thread
        for _ in range(3):
            time.sleep(0.3)
            with sqlite3.connect(tmp_path / "beat.db") as con:
                (beat,) = con.execute("SELECT heartbeat FROM hyperion_studies").fetchone()
            ages.append(time.time() - beat)
        return x

    tune(objective, SPACE, storage=url, study_name="long", max_trials=1)
    assert max(ages) < 0.3  # refreshed by the lease's thread while the objective held the loop


def test_a_run_that_lost_its_study_fails_its_write_instead_of_overwriting(tmp_path):
    url = f"sqlite:///{tmp_path / 'fence.db'}"
    first = SQLStorage(url)
    first.open_study("s", {}, Goal.of("score"))
    first.write("s", Changes(trials=[Trial(number=0, params={"x": 1})]))
    with sqlite3.connect(tmp_path / "fence.db") as con:  # as if another host took it over
        con.execute("UPDATE hyperion_studies SET owner = 'other-host|1|abc', heartbeat = ?", (time.time(),))
    with pytest.raises(StorageError, match="no longer this run's"):
        first.write("s", Changes(trials=[Trial(number=1, params={"x": 2})]))
    with pytest.raises(StorageError, match="no longer this run's"):  # and every later write, at once
        first.write("s", Changes(trials=[Trial(number=2, params={"x": 3})]))
    first.close()
    with sqlite3.connect(tmp_path / "fence.db") as con:
        assert con.execute("SELECT count(*) FROM hyperion_trials").fetchone()[0] == 1
        assert con.execute("SELECT owner FROM hyperion_studies").fetchone()[0] == "other-host|1|abc"


def test_a_restarted_container_with_the_same_pid_resumes_its_own_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'pid1.db'}"
    tune(lambda ctx, x: x, SPACE, storage=url, study_name="s", max_trials=2)
    with sqlite3.connect(tmp_path / "pid1.db") as con:  # left by an earlier run with this very PID and host
        owner = f"{socket.gethostname()}|{os.getpid()}|earlier-run"
        con.execute("UPDATE hyperion_studies SET owner = ?, heartbeat = ?", (owner, time.time()))
    assert tune(lambda ctx, x: x, SPACE, storage=url, study_name="s", max_trials=4)["study"]["resumed"] == 2


def test_a_live_pid_with_a_stale_heartbeat_is_not_an_owner(tmp_path):
    owner = f"{socket.gethostname()}|{os.getppid()}|someone"  # a live process, reused PID
    assert not _lease.owner_alive(owner, time.time() - _lease.STALE_OWNER_S - 1, time.time())
    assert _lease.owner_alive(owner, time.time(), time.time())


def test_deleting_a_running_study_is_refused_unless_forced_and_the_run_then_stops_cleanly(tmp_path):
    url = f"sqlite:///{tmp_path / 'del.db'}"
    started, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def objective(ctx, x):
        started.set()
        release.wait(30)
        return x

    def run():
        try:
            tune(objective, SPACE, storage=url, study_name="busy", max_trials=3, max_concurrent=2)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(30)
    refused = _cli("studies", "delete", "busy", "--storage", url, "--yes", cwd=tmp_path)
    assert refused.returncode == 1 and "open in a running tune()" in refused.stderr and "--force" in refused.stderr
    forced = _cli("studies", "delete", "busy", "--storage", url, "--yes", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    release.set()
    thread.join(60)
    assert isinstance(outcome.get("error"), StorageError) and "deleted it" in str(outcome["error"])


class _Recorder(Reporter):
    def __init__(self) -> None:
        self.kinds: list[str] = []

    def on_event(self, event, study):
        self.kinds.append(event.kind)


def test_a_failed_write_shows_reporters_nothing_unstored_and_names_the_failure(tmp_path):
    url = f"sqlite:///{tmp_path / 'full.db'}"
    storage = SQLStorage(url)
    real = storage._write
    calls = {"n": 0}

    def failing(name, changes):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise sqlalchemy.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
        return real(name, changes)

    storage._write = failing  # type: ignore[method-assign]
    recorder = _Recorder()
    with pytest.raises(StorageError, match="disk is full"):
        tune(lambda ctx, x: x, SPACE, storage=storage, study_name="full", max_trials=10, reporters=[recorder])
    stored = {t.number for t in SQLStorage(url).load_trials("full") if t.state.value == "completed"}
    shown = recorder.kinds.count("trial_completed")
    assert shown == len(stored)  # every completion a reporter saw is in the database


def test_sqlite_gives_up_on_a_held_write_lock_within_its_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(sql, "BUSY_TIMEOUT_S", 1.0)
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"

    def objective(ctx, x):
        if ctx.number == 1:
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock from now on
            objective.holder = holder
        return x

    began = time.monotonic()
    with pytest.raises(StorageError, match="locked"):
        tune(objective, SPACE, storage=url, study_name="s", max_trials=5)
    assert time.monotonic() - began < 10  # one busy timeout, not one per retry and per teardown step
    objective.holder.close()


def test_damaged_files_and_missing_directories_are_one_line_errors(tmp_path):
    bad = tmp_path / "notadb.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open the storage") as info:
        tune(lambda ctx, x: x, SPACE, storage=f"sqlite:///{bad}", max_trials=1)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(StorageError, match="directory .*missing_dir.* does not exist"):
        tune(lambda ctx, x: x, SPACE, storage=f"sqlite:///{tmp_path / 'missing_dir' / 'x.db'}", max_trials=1)
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    tune(lambda ctx, x: x, SPACE, storage=url, study_name="s", max_trials=2)
    with sqlite3.connect(tmp_path / "ok.db") as con:
        con.execute("UPDATE hyperion_trials SET params = '{not json'")
    listing = _cli("studies", "export", "s", "--storage", url, cwd=tmp_path)
    assert listing.returncode == 1 and "damaged" in listing.stderr and "Traceback" not in listing.stderr


def test_cli_edges(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    tune(lambda ctx, x: x * 1e9, SPACE, storage=url, study_name="a-rather-long-study-name-[/]x", max_trials=3, seed=0)
    bare = _cli(cwd=tmp_path)
    assert bare.returncode == 2 and bare.stdout == "" and "usage" in bare.stderr
    top = _cli("studies", "show", "a-rather-long-study-name-[/]x", "--storage", url, "--top", "-1", cwd=tmp_path)
    assert top.returncode == 2 and "must be a whole number >= 1" in top.stderr
    out = _cli(
        "studies", "export", "a-rather-long-study-name-[/]x", "--storage", url, "-o", "/missing/out.csv", cwd=tmp_path
    )
    assert out.returncode == 1 and "cannot write '/missing/out.csv'" in out.stderr and "Traceback" not in out.stderr
    narrow = _cli("studies", "list", "--storage", url, cwd=tmp_path, env={"COLUMNS": "60"})
    best = max(t.value for t in SQLStorage(url).load_trials("a-rather-long-study-name-[/]x"))
    assert narrow.returncode == 0 and f"{best:.6g}" in narrow.stdout and "[/]x" in narrow.stdout.replace("\n", "")
    piped = subprocess.run(
        f"{sys.executable} -m hyperion studies export a-rather-long-study-name-[/]x --storage {url} | head -1",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "BrokenPipeError" not in piped.stderr and piped.stdout.startswith("trial_id")


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"


def test_the_postgresql_password_is_never_shown_or_written(postgres_url, tmp_path):
    secret = "s3cr3t-pw-42"
    url = _with_password(postgres_url, secret)  # the test server trusts any password
    log = tmp_path / "events.jsonl"
    result = tune(lambda ctx, x: x, SPACE, storage=url, study_name="pw", max_trials=2, reporters=["jsonl"])
    assert secret not in json.dumps(result) and "***" in result["study"]["storage"]
    events = Path("hyperion-events.jsonl")
    if events.exists():
        text = events.read_text()
        events.unlink()
        assert secret not in text and "***" in text
    del log
    with pytest.raises(Exception) as changed:
        tune(lambda ctx, x: x, SPACE, storage=url, study_name="pw", max_trials=2, mode="min")
    assert secret not in str(changed.value)
    for args in (("studies", "list", "--storage", url), ("studies", "show", "nope", "--storage", url)):
        shown = _cli(*args, cwd=tmp_path, env={"COLUMNS": "250"})
        assert secret not in shown.stdout + shown.stderr
    missing_db = url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StorageError) as info:
        tune(lambda ctx, x: x, SPACE, storage=missing_db, max_trials=1)
    assert secret not in str(info.value) and "no_such_db" in str(info.value)
    port = _free_port()
    with pytest.raises(StorageError) as lost:
        tune(lambda ctx, x: x, SPACE, storage=f"postgresql://u:{secret}@127.0.0.1:{port}/db", max_trials=1)
    assert secret not in str(lost.value)


def test_the_jsonl_event_log_is_private(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tune(lambda ctx, x: x, SPACE, max_trials=1, reporters=["jsonl"])
    assert (tmp_path / "hyperion-events.jsonl").stat().st_mode & 0o077 == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_pids(postgres_url: str) -> list[int]:
    port = postgres_url.rsplit(":", 1)[1].split("/")[0]
    out = subprocess.run(["pgrep", "-f", "--", f"-p {port}"], capture_output=True, text=True).stdout.split()
    parents = [int(p) for p in out]
    children = []
    for parent in parents:
        children += [
            int(c) for c in subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
        ]
    return parents + children


def test_a_frozen_postgresql_server_ends_the_study_with_a_storage_error_in_bounded_time(postgres_url, monkeypatch):
    monkeypatch.setattr(_bounded, "OPERATION_TIMEOUT_S", 1.0)
    monkeypatch.setattr(_bounded, "CONNECT_TIMEOUT_S", 1)
    assert _server_pids(postgres_url), "could not find the test server's processes"
    frozen = threading.Event()
    pids: list[int] = []

    def objective(ctx, x):
        if ctx.number == 2 and not frozen.is_set():
            pids.extend(_server_pids(postgres_url))  # now: the backends serving this run exist
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            frozen.set()
        return x

    began = time.monotonic()
    try:
        with pytest.raises(StorageError, match="did not answer within"):
            tune(objective, SPACE, storage=postgres_url, study_name=f"frozen-{os.getpid()}", max_trials=6)
        assert time.monotonic() - began < 30
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def test_a_full_disk_fails_the_write_with_what_to_do(tmp_path):
    storage = sql.SQLStorage(f"sqlite:///{tmp_path / 'full.db'}")
    try:

        def full() -> None:
            raise OSError(28, "No space left on device")

        with pytest.raises(
            StorageError, match=r"cannot write study 's' in sqlite:///.*No space left on device.*free some space"
        ):
            storage._run("write study 's'", full)
    finally:
        storage.close()
