"""Ask-and-tell: the same semantics as tune() (one StudyLoop underneath), with every strategy, SQLite
resume, early stopping, several threads, and clear errors."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from hyperion import ConfigurationError, Float, Int, ObjectiveResult, Study, StudyFinished, tune
from hyperion_core.plugins import registry
from hyperion_reporters.summary import SummaryReporter
from tests.cli import hyperion as _cli
from tests.plugins.test_strategies_contract import KWARGS, SPACE, objective

STRATEGIES = registry().names("strategy")


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_asks_points_in_the_space_and_learns_from_tells(name):
    with Study(SPACE, strategy=name, strategy_kwargs=KWARGS.get(name), max_trials=15, seed=2) as study:
        told = 0
        try:
            for _ in range(15):
                trial = study.ask()
                study.tell(trial, objective(trial, **trial.params))
                told += 1
        except StudyFinished:
            pass
        result = study.result()
    assert told == result["study"]["completed"] > 0
    assert result["best"]["value"] == max(t["value"] for t in result["trials"])


def test_ask_and_tell_matches_tune_trial_for_trial_with_a_seed():
    space = {"x": Float(0, 1), "n": Int(1, 5)}
    f = lambda ctx, x, n: x * n  # noqa: E731
    ran = tune(f, space, strategy="bayesian", max_trials=15, seed=7)
    with Study(space, strategy="bayesian", max_trials=15, seed=7) as study:
        for _ in range(15):
            trial = study.ask()
            study.tell(trial, f(trial, **trial.params))
        asked = study.trials
    assert [t["params"] for t in asked] == [t["params"] for t in ran["trials"]]


def test_a_study_resumes_by_name_and_hands_out_trials_asked_but_never_told(tmp_path):
    url = f"sqlite:///{tmp_path / 'ask.db'}"
    with Study({"x": Float(0, 1)}, storage=url, study_name="s", seed=0) as study:
        for _ in range(3):
            trial = study.ask()
            study.tell(trial, trial.params["x"])
        left = study.ask()  # asked, never told: interrupted at close
    with Study({"x": Float(0, 1)}, storage=url, study_name="s", seed=0) as study:
        again = study.ask()
        assert (again.number, again.params) == (left.number, left.params)
        study.tell(again, 0.5)
        result = study.result()
    assert result["study"]["completed"] == 4 and result["study"]["resumed"] == 3


def test_early_stopping_reaches_should_stop_and_the_tell_records_a_kill():
    with Study({"x": Float(0, 1)}, early_stopping="median", metric="loss", mode="min", seed=1) as study:
        killed = 0
        for _ in range(10):
            trial = study.ask()
            for step in range(5):
                trial.report(step=step, loss=trial.params["x"] + step)
                if trial.should_stop():
                    break
            study.tell(trial, ObjectiveResult(metrics={"loss": trial.params["x"]}))
            killed += trial.should_stop()
        result = study.result()
    assert killed == result["study"]["killed"] > 0
    assert all(t["kill_reason"].startswith("median") for t in result["trials"] if t["state"] == "killed")


def test_a_dict_of_metrics_is_told_as_the_metrics_it_names():
    # what a training loop has at hand; it once failed every trial ("returned dict"), silently
    with Study({"x": Float(0, 1)}, metric="acc", mode="max", seed=3) as study:
        for _ in range(4):
            trial = study.ask()
            study.tell(trial, {"acc": trial.params["x"], "loss": 1 - trial.params["x"]})
        bad = study.ask()
        study.tell(bad, {1: 0.5})
        result = study.result()
    done = [t for t in result["trials"] if t["state"] == "completed"]
    assert len(done) == 4 and all(t["metrics"]["loss"] == 1 - t["params"]["x"] for t in done)
    assert result["best"]["params"]["x"] == max(t["params"]["x"] for t in done)
    assert "keys are not all metric names" in result["trials"][-1]["error"]


def test_several_threads_ask_and_tell_at_once():
    with Study({"x": Float(0, 1)}, strategy="bayesian", max_trials=80, seed=3) as study:

        def work():
            try:
                while True:
                    trial = study.ask()
                    trial.report(step=0, loss=trial.params["x"])
                    study.tell(trial, trial.params["x"])
            except StudyFinished:
                pass

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        result = study.result()
    assert result["study"]["completed"] == 80
    assert sorted(t["number"] for t in result["trials"]) == list(range(80))


def test_tells_that_make_no_sense_are_clear_errors_and_exceptions_fail_the_trial():
    console = Console(file=io.StringIO(), width=200, color_system=None)
    with Study({"x": Float(0, 1)}, reporters=[SummaryReporter(console=console)], study_name="errs") as study:
        trial = study.ask()
        study.tell(trial, RuntimeError("out of memory"))
        with pytest.raises(ConfigurationError, match="told already"):
            study.tell(trial, 1.0)
        with pytest.raises(ConfigurationError, match="never asked"):
            study.tell(99, 1.0)
        other = study.ask()
        study.tell(other, "not a number")
        assert [t["state"] for t in study.trials] == ["failed", "failed"]
        assert study.trials[0]["error"].startswith("RuntimeError: out of memory")
    assert "errs: 2 trials: 0 completed, 2 failed" in console.file.getvalue()  # reporters see it all
    with pytest.raises(ConfigurationError, match="closed"):
        study.ask()


def test_the_shell_asks_and_tells_a_stored_study(tmp_path):
    import json

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    space = {"x": Float(0, 1), "n": Int(1, 3), "model": {"depth": Int(1, 4), "tag": "v1"}}
    tune(lambda ctx, **p: p["x"], space, storage=url, study_name="shell", max_trials=2, seed=0)
    asked = [json.loads(_cli("ask", "--storage", url, "--study", "shell", cwd=tmp_path).stdout) for _ in range(2)]
    assert [a["trial"] for a in asked] == [2, 3] and asked[0]["params"]["model"]["tag"] == "v1"
    told = _cli("tell", "--storage", url, "--study", "shell", "--trial", "2", "--score", "0.99", cwd=tmp_path)
    assert told.returncode == 0 and "trial 2: completed" in told.stderr
    failed = _cli("tell", "--storage", url, "--study", "shell", "--trial", "3", "--failed", "segfault", cwd=tmp_path)
    assert failed.returncode == 0 and "failed (RuntimeError: segfault)" in failed.stderr
    again = _cli("tell", "--storage", url, "--study", "shell", "--trial", "3", "--score", "1", cwd=tmp_path)
    assert again.returncode == 1 and "not waiting for a result (it is failed)" in again.stderr
    done = _cli("ask", "--storage", url, "--study", "shell", "--max-trials", "4", cwd=tmp_path)
    assert done.returncode == 1 and "max_trials=4 reached" in done.stderr
    with Study(space, storage=url, study_name="shell") as study:
        assert study.best["value"] == 0.99 and study.best["trial_id"] == "trial_0002"


def test_a_tell_with_a_stranger_or_a_wrong_trial_is_refused():
    with Study({"x": Float(0, 1)}, study_name="a") as a, Study({"x": Float(0, 1)}, study_name="b") as b:
        mine, theirs = a.ask(), b.ask()
        assert mine.number == theirs.number == 0
        with pytest.raises(ConfigurationError, match="asked by another Study"):
            a.tell(theirs, 1.0)
        for wrong in ("3", -1, True, 2.0):
            with pytest.raises(ConfigurationError, match="tell\\(\\) takes the trial ask\\(\\) returned"):
                a.tell(wrong, 1.0)
        a.tell(mine, 0.5)
        b.tell(theirs, 0.25)
        assert a.best["value"] == 0.5 and b.best["value"] == 0.25


def test_the_shell_uses_the_studys_strategy_and_says_what_is_wrong_without_tracebacks(tmp_path):
    import json

    url = f"sqlite:///{tmp_path / 'own.db'}"
    tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="own", strategy="bayesian", max_trials=2)
    import argparse

    from hyperion.cli.ask import _open

    study = _open(argparse.Namespace(storage=url, study="own"), strategy=None)  # what `hyperion ask` opens
    assert study.result()["study"]["strategy"] == "bayesian"  # the study's own, not random
    study.close()
    asked = json.loads(_cli("ask", "--storage", url, "--study", "own", cwd=tmp_path).stdout)
    assert asked["trial"] == 2
    for args, message in (
        (("--trial", "-100", "--score", "1"), "--trial takes a trial number (0 or more"),
        (("--trial", "-1", "--score", "1"), "--trial takes a trial number (0 or more"),
        (("--trial", "2", "--metrics", '{"score": "abc"}'), "--metrics: 'score' must be a number, got 'abc'"),
    ):
        told = _cli("tell", "--storage", url, "--study", "own", *args, cwd=tmp_path)
        assert told.returncode == 1 and message in told.stderr and "Traceback" not in told.stderr, told.stderr
    assert json.loads(_cli("studies", "list", "--storage", url, "--json", cwd=tmp_path).stdout)[0]["running"] == 1
    missing = _cli("ask", "--storage", f"sqlite:///{tmp_path / 'typo.db'}", "--study", "own", cwd=tmp_path)
    assert missing.returncode == 1 and "no database at" in missing.stderr
    assert not (tmp_path / "typo.db").exists()


def test_a_plain_tune_leaves_a_trial_the_shell_was_handed_for_its_tell(tmp_path):
    import json

    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    space = {"x": Float(0, 1)}
    tune(lambda ctx, x: x, space, storage=url, study_name="mixed", max_trials=2, seed=0)
    asked = json.loads(_cli("ask", "--storage", url, "--study", "mixed", cwd=tmp_path).stdout)
    ran = []
    result = tune(lambda ctx, x: ran.append(ctx.number) or x, space, storage=url, study_name="mixed", max_trials=6)
    assert asked["trial"] not in ran and sorted(ran) == [3, 4, 5]  # the handed-out trial was not run again
    waiting = next(t for t in result["trials"] if t["number"] == asked["trial"])
    assert waiting["state"] == "running"
    told = _cli(
        "tell", "--storage", url, "--study", "mixed", "--trial", str(asked["trial"]), "--score", "2", cwd=tmp_path
    )
    assert told.returncode == 0 and f"trial {asked['trial']}: completed" in told.stderr
    from hyperion import load_study

    assert load_study("mixed", storage=url)["best"]["value"] == 2.0


def test_the_shell_cannot_tell_a_trial_another_worker_is_running(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    space = {"x": Float(0, 1)}
    with Study(space, storage=url, study_name="busy", join=True) as worker:
        running = worker.ask()  # a live worker runs trial 0
        told = _cli(
            "tell", "--storage", url, "--study", "busy", "--trial", str(running.number), "--score", "9", cwd=tmp_path
        )
        assert told.returncode == 1 and "is being run by another worker" in told.stderr
        worker.tell(running, 0.25)
    with Study(space, storage=url, study_name="busy", join=True) as reader:
        assert reader.best["value"] == 0.25  # the worker's own result stands


def test_tell_score_on_a_study_of_another_metric_is_that_metric_without_a_warning(tmp_path):
    import json

    url = f"sqlite:///{tmp_path / 'vl.db'}"
    space = {"x": Float(0, 1)}
    tune(
        lambda ctx, x: ObjectiveResult(metrics={"val_loss": x}),
        space,
        storage=url,
        study_name="vl",
        metric="val_loss",
        mode="min",
        max_trials=2,
        seed=0,
    )
    asked = json.loads(_cli("ask", "--storage", url, "--study", "vl", cwd=tmp_path).stdout)
    told = _cli(
        "tell", "--storage", url, "--study", "vl", "--trial", str(asked["trial"]), "--score", "0.001", cwd=tmp_path
    )
    assert told.returncode == 0 and "completed" in told.stderr and "Warning" not in told.stderr, told.stderr
    from hyperion import load_study

    best = load_study("vl", storage=url)["best"]
    assert best["value"] == 0.001 and best["metrics"]["val_loss"] == 0.001
