"""A third-party plugin, installed as its own distribution, shows up and runs by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin-example"


def test_example_plugin_installs_lists_and_runs(tmp_path):
    target = tmp_path / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(EXAMPLE)]
    subprocess.run(command, check=True, timeout=300, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}

    listing = subprocess.run(
        [sys.executable, "-m", "hyperion", "plugins", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["halton"]["distribution"] == "hyperion-halton"
    assert rows["halton"]["strategy"] == ["halton"]

    code = (
        "import json; from hyperion import tune, Float, Int;"
        "r = tune(lambda ctx, x, n: -(x - 0.3) ** 2 - n, {'x': Float(0, 1), 'n': Int(0, 3)}, strategy='halton', max_trials=16, seed=1);"
        "print(json.dumps([t['params'] for t in r['trials']]))"
    )
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    points = json.loads(run.stdout)
    assert len(points) == 16
    xs = sorted(p["x"] for p in points)
    # Halton points are spread out: every sixteenth of [0, 1] holds exactly one x.
    assert [int(x * 16) for x in xs] == list(range(16))
