"""What a user reads: warnings that point at their own line, one line (not a traceback) after Ctrl-C that
says how to resume, a rerun of a finished study that says why nothing ran, a reporter whose package is
missing refused before the first trial, and credentials masked inside any text."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hyperion import ConfigurationError, Float, HyperionWarning, ObjectiveResult, tune
from hyperion_core.text import redact_url

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": Float(0, 1)}


def test_a_warning_names_the_users_line_not_hyperions(tmp_path):
    with pytest.warns(HyperionWarning, match="metric 'throughput' was not in") as caught:
        tune(lambda ctx, x: ObjectiveResult(score=x), SPACE, metric="throughput", max_trials=2)  # this line
    assert caught[0].filename == __file__
    with pytest.warns(HyperionWarning, match="failed, so result") as caught:
        tune(lambda ctx, x: 1 / 0, SPACE, max_trials=2, max_concurrent=2)  # trials on the thread pool
    assert caught[0].filename == __file__


def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_ctrl_c_ends_with_one_line_that_says_how_to_resume(tmp_path):
    run = _script(
        tmp_path,
        """
        from hyperion import tune, Float

        def objective(ctx, x):
            if ctx.number == 3:
                raise KeyboardInterrupt  # what Ctrl-C raises on the thread that runs the trial
            return x

        tune(objective, {"x": Float(0, 1)}, storage="sqlite:///s.db", max_trials=10, show_summary=True)
        """,
    )
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last == (
        "hyperion: study 'objective' interrupted (Ctrl-C) after 3 finished trial(s); run the same tune() again "
        "(storage='sqlite:///s.db', study_name='objective') to resume"
    )
    assert "Traceback" not in run.stderr
    resumed = _script(
        tmp_path,
        """
        from hyperion import tune, Float
        r = tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage="sqlite:///s.db", study_name="objective", max_trials=10)
        print(r["study"]["completed"], r["study"]["resumed"])
        """,
    )
    assert resumed.stdout.split() == ["10", "3"], resumed.stderr


def test_a_script_that_catches_ctrl_c_still_can(tmp_path):
    run = _script(
        tmp_path,
        """
        from hyperion import tune, Float

        def objective(ctx, x):
            raise KeyboardInterrupt

        try:
            tune(objective, {"x": Float(0, 1)}, max_trials=3)
        except KeyboardInterrupt:
            print("caught")
        raise ValueError("a later error still shows its traceback")
        """,
    )
    assert run.stdout.strip() == "caught"
    assert "its trials were kept in memory only" in run.stderr
    assert "Traceback" in run.stderr and "ValueError: a later error" in run.stderr


def test_rerunning_a_finished_study_says_so_and_how_to_extend_it(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    tune(lambda ctx, x: x, SPACE, storage=url, study_name="done", max_trials=4)
    with pytest.warns(HyperionWarning, match=r"already has 4 trial\(s\), max_trials=4: no new trial runs; raise"):
        again = tune(lambda ctx, x: x, SPACE, storage=url, study_name="done", max_trials=4)
    assert again["study"]["trials"] == 4


def test_a_reporter_whose_package_is_missing_is_refused_before_any_trial(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # find_spec says: not installed
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    calls = []
    with pytest.raises(ConfigurationError, match=r"needs the mlflow package.*pip install 'hyperion-tune\[mlflow\]'"):
        tune(lambda ctx, x: calls.append(x) or x, SPACE, max_trials=2, reporters=["mlflow"])
    assert calls == []


def test_objective_names_read_as_code():
    def objective(x):
        return x

    with pytest.raises(ConfigurationError, match=r"^objective\(\)'s first argument must be the trial context"):
        tune(objective, SPACE, max_trials=1)


def test_credentials_are_masked_inside_any_text():
    text = "cannot reach http://bob:hunter2@tracker:5000/api (timed out); token in s3://b/x?token=abc&part=1"
    shown = redact_url(text)
    assert "hunter2" not in shown and "abc" not in shown
    assert "http://bob:***@tracker:5000/api" in shown and "token=***" in shown and "(timed out)" in shown
    assert redact_url("sqlite:///experiments.db") == "sqlite:///experiments.db"


def test_piped_output_prints_whole_values_and_ids(tmp_path):
    run = _script(
        tmp_path,
        """
        from hyperion import tune, Float, Choice
        space = {"n_estimators_for_the_forest": Choice([100, 200]), "learning_rate": Float(1e-4, 1e-1, log=True),
                 "tokenizer_name_or_path": Choice(["bert-base-multilingual-uncased-finetuned-sentiment"])}
        r = tune(lambda ctx, **p: p["learning_rate"], space, max_trials=12, seed=0, show_summary=True,
                 study_name="trial_of_a_really_long_study_name_that_goes_on")
        print("BEST", r["best"]["params"]["learning_rate"])
        """,
    )
    out = run.stdout
    assert "…" not in out and "..." not in out, out
    assert "trial_of_a_really_long_study_name_that_goes_on" in out and "n_estimators_for_the_forest" in out
    assert "bert-base-multilingual-uncased-finetuned-sentiment" in out
    best = out.split("BEST ")[1].split()[0]
    assert f"{float(best):.6g}" in out  # the best's value, whole, in the table


def test_a_long_parameter_list_is_cut_between_items_never_inside_a_value():
    from hyperion_reporters._format import params

    shown = params({f"param_{i}": 0.123456789 * i for i in range(20)}, limit=60)
    assert shown.endswith("more)") and all(part.count("=") == 1 for part in shown.split(", ")[:-1])
    assert "param_2=0.246914" in shown and not any(part.endswith("…") for part in shown.split(", "))
