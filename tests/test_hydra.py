"""The Hydra sweeper (hydra/sweeper=hyperion) on the example app, as a user runs it (extra `hydra`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integrations
def test_the_hydra_example_sweeps_with_hyperion(tmp_path):
    pytest.importorskip("hydra", reason="the integrations suite installs hydra-core")
    # Hydra finds sweepers by scanning the hydra_plugins namespace package; an editable install of
    # Hyperion hides it from that scan (setuptools' editable finder), so the source folder is put on the path.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins")}
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "hydra" / "app.py"),
            "--multirun",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((tmp_path / "sweep" / "optimization_results.json").read_text())
    assert result["study"]["trials"] == 12 and result["study"]["completed"] >= 6
    best = result["best"]["params"]
    assert 1e-4 <= best["optim"]["lr"] <= 1e-1 and 1 <= best["model"]["layers"] <= 5
    trials = sorted((tmp_path / "sweep" / "app").iterdir())
    assert len(trials) == 12 and (trials[0] / ".hydra" / "overrides.yaml").exists()  # each trial a Hydra run
