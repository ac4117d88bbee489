"""The examples run as written (the heavy ones opt in by marker)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.torch
def test_the_pytorch_gpu_example_runs_on_whatever_devices_there_are():
    """Opt-in (-m torch): PyTorch is several GB. One GPU per trial where there are GPUs, else the CPU."""
    pytest.importorskip("torch")
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "pytorch_gpu.py"), "--trials", "4"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "best validation accuracy 0.9" in run.stdout


def test_the_command_example_runs_from_its_file(tmp_path):
    """examples/command: a study file whose objective is a program that prints the line protocol."""
    import shutil

    example = tmp_path / "command"
    shutil.copytree(ROOT / "examples" / "command", example)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    run = subprocess.run(
        [sys.executable, "-m", "hyperion", "run", str(example / "study.yaml"), "--no-summary", "--storage", url],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    from hyperion import load_study

    study = load_study("command-example", storage=url)
    assert study["study"]["trials"] == 20 and study["study"]["failed"] == 0
    runs = example / ".hyperion" / "runs" / "command-example"
    completed = [t["trial_id"] for t in study["trials"] if t["state"] == "completed"]
    assert completed and all((runs / trial / "model.json").is_file() for trial in completed)  # each left its model


@pytest.mark.parametrize("policy", ["pbt", "asha"])
def test_the_checkpoint_example_runs_and_resumes_its_study(tmp_path, policy):
    """examples/checkpoints: pbt and promotion-based ASHA on a numpy network; a second run of the same
    study file finds it finished."""
    script = ROOT / "examples" / "checkpoints" / "train_resume.py"
    args = [
        sys.executable,
        str(script),
        "--policy",
        policy,
        "--members",
        "4",
        "--storage",
        f"sqlite:///{tmp_path / 'e.db'}",
    ]
    for _ in range(2):
        run = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path, stdin=subprocess.DEVNULL)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "best accuracy 0." in run.stdout
    assert (tmp_path / "e.checkpoints").is_dir()  # next to the SQLite file


def test_the_early_stopping_example_compares_the_policies_on_the_same_trials():
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "early_stopping_curves.py")],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {line.split()[0]: line.split()[1:] for line in run.stdout.splitlines()[2:]}
    assert set(rows) == {"none", "median", "percentile", "asha"}
    assert rows["none"][1:] == ["1200", "0.0"]  # 40 trials x 30 epochs, none stopped
    for policy in ("median", "percentile", "asha"):
        best, epochs, stopped = (float(v) for v in rows[policy])
        assert epochs < 1200 and stopped > 0 and 0 < best <= float(rows["none"][0])
