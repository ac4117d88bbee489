"""Trial checkpoints: the ctx API, the stores, retention, what the storage records, and trials that
continue from their last checkpoint after a crash of tune() or of their worker (real SIGKILLs)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hyperion import CheckpointError, ConfigurationError, Float, HyperionWarning, ObjectiveResult, load_study, tune
from hyperion_core.plugins import registry
from hyperion_storage.memory import MemoryStorage

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"lr": Float(0.01, 0.1)}


def trains(ctx, lr, epochs=6):
    """A PyTorch-style loop: load the state if continuing, report and save every epoch."""
    state = ctx.load_checkpoint() or {"w": 0.0, "epoch": -1}
    assert (ctx.checkpoint_step is None) == (state["epoch"] == -1)
    for epoch in range(state["epoch"] + 1, epochs):
        state["w"] += lr
        state["epoch"] = epoch
        ctx.report(epoch, loss=1 - state["w"])
        ctx.save_checkpoint(state)
        if ctx.should_stop():
            break
    return ObjectiveResult(metrics={"loss": 1 - state["w"]})


def test_a_trial_saves_checkpoints_and_retention_keeps_the_best_trials_last_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'exp.db'}"
    result = tune(trains, SPACE, metric="loss", mode="min", max_trials=4, seed=0, storage=url)
    best = next(t for t in result["trials"] if t["trial_id"] == result["best"]["trial_id"])
    store = tmp_path / "exp.checkpoints"  # next to the SQLite file
    kept = [p for p in store.rglob("state.pkl")]
    assert len(kept) == 1  # keep_checkpoints default: the best finished trial's last one
    assert pickle.loads(kept[0].read_bytes())["epoch"] == 5
    storage = registry().storage(url)
    try:
        rows = storage.load_checkpoints("trains")
        assert [(c.trial_number, c.step) for c in rows] == [(best["number"], 5)]
        view = storage.trial_view("trains", best["number"])
        assert view is not None and [c["step"] for c in view["checkpoints"]] == [5]
        assert Path(view["checkpoints"][0]["location"]).is_dir() and view["checkpoints"][0]["size"] > 0
    finally:
        storage.close()
    # other trials' directories are gone, not left empty
    assert sorted(p.name for p in next(store.iterdir()).iterdir()) == [f"trial_{best['number']:04d}"]


def test_keep_checkpoints_last_n_per_unfinished_trial_and_best_k(tmp_path):
    def counts(ctx, lr):
        for epoch in range(5):
            ctx.report(epoch, loss=lr - epoch)
            ctx.save_checkpoint({"epoch": epoch})
        if ctx.number == 2:
            raise KeyboardInterrupt  # Ctrl-C: trial 2 stays unfinished, with its last 3 checkpoints
        return ObjectiveResult(metrics={"loss": lr})

    storage = MemoryStorage()
    options = dict(metric="loss", mode="min", seed=0, storage=storage, checkpoints=str(tmp_path / "ck"))
    with pytest.raises(KeyboardInterrupt):
        tune(counts, SPACE, max_trials=4, keep_checkpoints={"last": 3, "best": 2}, **options)
    kept = storage.load_checkpoints("counts")
    assert [(c.trial_number, c.step) for c in kept] == [(0, 4), (1, 4), (2, 2), (2, 3), (2, 4)]
    on_disk = sorted(str(p.relative_to(tmp_path / "ck").parent) for p in (tmp_path / "ck").rglob("state.pkl"))
    assert on_disk == sorted(str(Path(c.location).relative_to(tmp_path / "ck")) for c in kept)


def test_files_written_in_a_checkpoint_block_come_back_on_resume(tmp_path):
    def writes_files(ctx, lr):
        if ctx.checkpoint_path is not None:  # continuing: the framework reads its own files
            assert (ctx.checkpoint_path / "model.txt").read_text() == f"weights at {ctx.checkpoint_step}"
            with pytest.raises(CheckpointError, match="files, not a saved state"):
                ctx.load_checkpoint()
            return ObjectiveResult(metrics={"loss": lr, "resumed_from": ctx.checkpoint_step})
        assert ctx.load_checkpoint() is None
        ctx.report(0, loss=lr)
        with ctx.checkpoint() as path:
            (path / "model.txt").write_text("weights at 0")
        raise KeyboardInterrupt  # the user's Ctrl-C: the study stops, the trial is interrupted

    url = f"sqlite:///{tmp_path / 'f.db'}"
    with pytest.raises(KeyboardInterrupt):
        tune(writes_files, SPACE, metric="loss", mode="min", max_trials=1, storage=url)
    result = tune(writes_files, SPACE, metric="loss", mode="min", max_trials=1, storage=url)
    trial = result["trials"][0]
    assert trial["state"] == "completed" and trial["metrics"]["resumed_from"] == 0 and trial["number"] == 0


def test_a_failing_store_fails_the_save_never_the_study(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store should be")

    def saves(ctx, lr):
        ctx.report(0, loss=lr)
        if ctx.number == 1:
            try:
                ctx.save_checkpoint({"w": 1})
            except CheckpointError as exc:  # caught: the trial trains on without it
                return ObjectiveResult(metrics={"loss": lr, "caught": str(exc)[:40]})
        ctx.save_checkpoint({"w": 1})
        return ObjectiveResult(metrics={"loss": lr})

    result = tune(saves, SPACE, metric="loss", mode="min", max_trials=3, checkpoints=str(blocker / "ck"))
    states = [t["state"] for t in result["trials"]]
    assert states == ["failed", "completed", "failed"]
    assert "CheckpointError: the checkpoint at step 0 could not be saved to" in result["trials"][0]["error"]
    assert result["trials"][1]["metrics"]["caught"].startswith("the checkpoint at step 0")


def test_an_fsspec_url_is_a_store(tmp_path):
    result = tune(
        trains, SPACE, metric="loss", mode="min", max_trials=2, seed=0, checkpoints="memory://hyperion-test/ck"
    )
    assert result["study"]["completed"] == 2
    store = registry().checkpoint_store("memory://hyperion-test/ck")
    assert type(store).__name__ == "FsspecStore"
    assert registry().get("checkpoint store", "*").plugin == "checkpoints"
    assert registry().get("checkpoint store", "file").plugin == "checkpoints"


def test_bad_checkpoint_options_are_refused():
    with pytest.raises(ConfigurationError, match="keep_checkpoints: last"):
        tune(trains, SPACE, max_trials=1, keep_checkpoints=0)
    with pytest.raises(ConfigurationError, match="unknown key"):
        tune(trains, SPACE, max_trials=1, keep_checkpoints={"newest": 2})
    with pytest.raises(ConfigurationError, match="checkpoints must be a directory path or a URL"):
        tune(trains, SPACE, max_trials=1, checkpoints="")


# -- continuing after a SIGKILL -------------------------------------------------------------------------
KILLED_SCRIPT = """
import json, os, signal, sys
from pathlib import Path
from hyperion import Float, ObjectiveResult, tune

HERE = Path(sys.argv[1])

def train(ctx, lr):
    state = ctx.load_checkpoint() or {"w": 0.0, "epoch": -1}
    with open(HERE / "starts.jsonl", "a") as f:
        f.write(json.dumps({"trial": ctx.number, "from": ctx.checkpoint_step, "pid": os.getpid()}) + "\\n")
    for epoch in range(state["epoch"] + 1, 10):
        state["w"] += lr
        state["epoch"] = epoch
        ctx.report(epoch, loss=1 - state["w"])
        with open(HERE / "epochs.jsonl", "a") as f:
            f.write(json.dumps({"trial": ctx.number, "epoch": epoch}) + "\\n")
        if epoch % 3 == 2:  # a checkpoint every 3 epochs
            ctx.save_checkpoint(state)
        if ctx.number == 1 and epoch == 7 and not (HERE / "killed").exists():
            (HERE / "killed").write_text("once")
            os.kill(os.getpid(), signal.SIGKILL)  # the worker (or tune() itself) dies mid-trial
    return ObjectiveResult(metrics={"loss": 1 - state["w"]})

tune(train, {"lr": Float(0.01, 0.1)}, metric="loss", mode="min", max_trials=3, seed=0,
     storage=f"sqlite:///{HERE / 'k.db'}", study_name="k", executor=sys.argv[2], **json.loads(sys.argv[3]))
"""


def _run_killed(tmp_path, executor, options=None):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(KILLED_SCRIPT))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    args = [sys.executable, str(script), str(tmp_path), executor, json.dumps(options or {})]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_continued(tmp_path):
    starts, epochs = _lines(tmp_path / "starts.jsonl"), _lines(tmp_path / "epochs.jsonl")
    one = [s["from"] for s in starts if s["trial"] == 1]
    assert one == [None, 5]  # started afresh, then continued from its checkpoint at epoch 5
    ran = [e["epoch"] for e in epochs if e["trial"] == 1]
    assert ran == [*range(8), *range(6, 10)]  # epochs 6 and 7 again: less than one checkpoint interval (3)
    study = load_study("k", storage=f"sqlite:///{tmp_path / 'k.db'}")
    trial = study["trials"][1]
    assert trial["state"] == "completed" and trial["last_step"] == 9 and study["study"]["completed"] == 3
    storage = registry().storage(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        steps = [r.step for r in storage.load_reports("k") if r.trial_number == 1]
        events = storage.load_events("k")
    finally:
        storage.close()
    assert steps == list(range(10))  # its reports kept up to the checkpoint, the repeated ones not doubled
    return events


def test_tune_killed_mid_trial_resumes_it_from_its_last_checkpoint(tmp_path):
    first = _run_killed(tmp_path, "thread")
    assert first.returncode == -signal.SIGKILL, first.stderr
    second = _run_killed(tmp_path, "thread")
    assert second.returncode == 0, second.stderr
    _check_continued(tmp_path)


def test_a_process_worker_killed_mid_trial_continues_from_its_checkpoint(tmp_path):
    ran = _run_killed(tmp_path, "process", {"max_concurrent": 2})
    assert ran.returncode == 0, ran.stderr
    events = _check_continued(tmp_path)
    restarts = [e for e in events if e["kind"] == "trial_restarted"]
    assert [(e["trial_number"], e["from_step"]) for e in restarts] == [(1, 5)]


def test_a_joined_worker_killed_mid_trial_is_continued_by_another(tmp_path):
    # join=True: the dead process is noticed at once on this host, and its trial goes to the next joiner
    first = _run_killed(tmp_path, "thread", {"join": True})
    assert first.returncode == -signal.SIGKILL, first.stderr
    second = _run_killed(tmp_path, "thread", {"join": True})
    assert second.returncode == 0, second.stderr
    _check_continued(tmp_path)


def test_a_study_file_sets_the_store_and_the_retention(tmp_path):
    from hyperion.cli import config_file

    (tmp_path / "study.yaml").write_text(
        "space:\n  lr: {float: [0.01, 0.1]}\n"
        f"checkpoints: {tmp_path / 'ck'}\nkeep_checkpoints: {{last: 3, best: 2}}\n"
    )
    config = config_file.load(tmp_path / "study.yaml")
    assert config.checkpoints == str(tmp_path / "ck") and config.keep_checkpoints == (3, 2)
    (tmp_path / "bad.yaml").write_text("space:\n  lr: {float: [0.01, 0.1]}\nkeep_checkpoints: {newest: 3}\n")
    with pytest.raises(ConfigurationError, match="keep_checkpoints"):
        config_file.load(tmp_path / "bad.yaml")


def test_a_full_disk_fails_the_save_clearly_and_the_study_goes_on(tmp_path, monkeypatch):
    import errno

    from hyperion_checkpoints.stores import DirectoryStore

    def full(self, key, staged):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(DirectoryStore, "commit", full)
    with pytest.warns(HyperionWarning, match="failed"):
        result = tune(trains, SPACE, metric="loss", mode="min", max_trials=2, checkpoints=str(tmp_path / "ck"))
    assert [t["state"] for t in result["trials"]] == ["failed", "failed"]
    assert "No space left on device" in result["trials"][0]["error"]
    assert not list((tmp_path / "ck").rglob("*.partial"))  # the staged files went with the failed save


def test_a_url_without_fsspec_says_what_to_install(monkeypatch):
    import sys

    import hyperion_core.checkpoints as checkpoints

    monkeypatch.setitem(sys.modules, "fsspec", None)
    monkeypatch.setattr(checkpoints, "_stores", {})
    with pytest.raises(ConfigurationError, match="pip install fsspec"):
        registry().checkpoint_store("s3://bucket/prefix")


def test_a_trial_that_reports_an_earlier_step_again_replaces_its_curve_from_there():
    """A run that goes back (it restarted, or a late report of a run that died) keeps one curve: the
    latest run's, in the study and in the storage."""

    def goes_back(ctx, lr):
        for step in (0, 1, 2, 3, 1, 2, 3, 4):
            ctx.report(step, loss=lr + step)
        ctx.report(4, accuracy=0.5)  # a second report at the same step adds to it
        return ObjectiveResult(metrics={"loss": lr})

    storage = MemoryStorage()
    tune(goes_back, SPACE, metric="loss", mode="min", max_trials=1, storage=storage)
    assert [r.step for r in storage.load_reports("goes_back")] == [0, 1, 2, 3, 4, 4]
